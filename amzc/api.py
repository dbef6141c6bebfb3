"""The library entry point of a search: :func:`evolve` runs an experiment file (one population
in this process, islands on worker processes, or islands as Ray actors), or resumes a run
folder, and returns what it found as an :class:`EvolveResult`.

``amzc evolve`` is this function plus a live display::

    import amzc

    result = amzc.evolve("configs/demo.toml", seed=2, out="runs/demo")
    print(result.final_fitness)
    print(result.program_text)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from amzc.errors import AmzConfigError
from amzc.evaluate import BACKENDS
from amzc.parse import parse
from amzc.search.config import ExperimentConfig, IslandGroup, group_config, load_config
from amzc.search.experiment import LOG_FILE, Run
from amzc.search.island_run import (
    is_island_run,
    island_groups,
    resume_islands,
    start_islands,
)
from amzc.search.islands import LocalPool, Pool
from amzc.search.progress import Display, read_log
from amzc.syntax import Program

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    """What a display may show before the run starts."""

    name: str
    seed: int
    folder: Path
    resumed: bool


@dataclass(frozen=True)
class EvolveResult:
    """A finished run: its best program and fitness, its history, and where it is on disk."""

    program: Program  # the best program on T_select, as evolved
    program_text: str
    simplified_text: str  # without the instructions that cannot affect predictions
    final_fitness: float  # on the final tasks
    select_fitness: float  # on T_select
    search_fitness: float  # on T_search, in the experiment that found it
    individuals: int  # over all experiments
    experiments: int
    elapsed_s: float
    folder: Path  # the run folder (config.toml, progress.jsonl, result.json, best.amz, ...)
    history: tuple[dict[str, Any], ...]  # the records of progress.jsonl, in order
    summary: Mapping[str, Any]  # result.json


DisplayArg = Display | Callable[[RunInfo], Display] | None


def evolve(config: str | Path | ExperimentConfig | None = None, *, seed: int | None = None,
           workers: int | str | None = None, ray: str | None = None,
           resume: str | Path | None = None, out: str | Path | None = None,
           backend: str | None = None, overrides: Mapping[str, Any] | None = None,
           force: bool = False, force_workers: bool = False,
           display: DisplayArg = None) -> EvolveResult:
    """Run a search and return its result.

    Give either ``config`` (an experiment file, or a config read by
    :func:`amzc.search.config.load_config`) for a new run, or ``resume`` (a run folder) to
    continue one from its checkpoint.

    - ``seed``: the search seed (default: the config's); ``overrides``: dotted keys and values
      that replace the file's (``{"stop.max_time_s": 60}``), checked as if the file held them
      and recorded in the run folder's ``config.toml``.
    - ``workers``: worker processes evolving islands with migration (a number, or ``"all"``
      for every core). Without it the run has one population in this process, unless ``ray``
      is given or the config sets ``[migration] islands`` ≥ 2 or island groups (then: every
      core). More workers than cores are capped at the cores, with a warning, unless
      ``force_workers``.
    - ``ray``: run the islands as Ray actors (``"auto"``, ``"local"`` or ``ray://host:port``).
    - ``out``: the run folder (default ``runs/<config name>``); ``force`` starts over in a
      folder that holds a run.
    - ``backend``: ``"auto"``, ``"llvm"`` or ``"numpy"`` (default: the config's).
    - ``display``: a :class:`~amzc.search.progress.Display`, or a function that makes one
      from a :class:`RunInfo`; default: none (the run is quiet).

    Ctrl-C checkpoints the run and raises :class:`amzc.search.experiment.Interrupted`."""
    if backend is not None and backend not in ("auto", *BACKENDS):
        raise AmzConfigError(f"backend must be auto, {', '.join(BACKENDS)}; not {backend!r}")
    if (config is None) == (resume is None):
        raise AmzConfigError("give either a config (a new run) or resume=RUN_DIR")
    count = worker_count(workers, capped=ray is None and not force_workers)

    def make_pool() -> Pool:
        if ray is not None:
            from amzc.search.ray_pool import RayPool

            return RayPool(ray, count if workers is not None else None)
        return LocalPool(count)

    runner: Run
    if resume is not None:
        folder = Path(resume)
        if seed is not None or overrides or out is not None:
            raise AmzConfigError("a resumed run keeps its seed, config and folder")
        if is_island_run(folder):  # a run keeps the mode it started in
            runner = resume_islands(folder, make_pool, count, None, backend)
        else:
            runner = Run.resume(folder, None, backend)
    else:
        assert config is not None
        if isinstance(config, ExperimentConfig):
            if overrides:
                raise AmzConfigError("overrides apply to a config file; replace() the fields "
                                     "of a config object instead")
            cfg, config_dir = config if seed is None else replace(config, seed=seed), Path.cwd()
        else:
            cfg = load_config(config, seed, overrides)
            config_dir = Path(config).resolve().parent
        if backend is not None:
            cfg = replace(cfg, backend=backend)
        folder = Path(out) if out is not None else Path("runs") / cfg.name
        islands_asked = cfg.migration.islands >= 2 or bool(cfg.migration.groups)
        if workers is None and ray is None and not islands_asked:
            count = 1  # one population, as the reference and the demo; islands on request
        if ray is None and count == 1 and not islands_asked:
            if cfg.migration.max_stagnation:  # a rule the run would silently not apply
                log.warning("[migration] max_stagnation restarts islands, and this run has one "
                            "population: it does not apply (stop.max_stagnation starts a new "
                            "experiment instead; --workers 2 or [migration] islands >= 2 "
                            "runs islands)")
            if not cfg.migration.main_exchange:
                log.warning("[migration] main_exchange = false shapes migration between "
                            "islands, and this run has one population: it does not apply")
            runner = Run.start(cfg, folder, None, config_dir=config_dir, force=force)
        else:
            idle = idle_restart_keys(cfg)
            if idle:  # a rule the run would silently not apply
                log.warning("%s: set where no island restarts (max_stagnation = 0; "
                            "hold_above_arrivals and its ceilings: or none that "
                            "restarts takes migrants from other tasks), so without effect",
                            ", ".join(idle))
            if not cfg.migration.main_exchange and not cfg.migration.groups:
                log.warning("[migration] main_exchange = false without island groups: the "
                            "islands take no migrants at all (independent populations)")
            if ray is None:  # a bad island count fails before any worker starts
                island_groups(cfg, cfg.migration.islands or count)
            Run.prepare(cfg, folder, force)  # fail on a used folder before starting workers
            pool = make_pool()
            islands = cfg.migration.islands or pool.workers
            try:
                runner = start_islands(cfg, folder, pool, islands, None, config_dir, force=True)
            except BaseException:
                pool.close()
                raise
    if display is not None:
        info = RunInfo(runner.config.name, runner.state.seed, folder, resume is not None)
        runner.display = display if isinstance(display, Display) else display(info)
    summary = runner.run()
    return EvolveResult(
        program=parse(summary["program"]), program_text=summary["program"],
        simplified_text=summary["simplified_program"],
        final_fitness=summary["final_fitness"], select_fitness=summary["select_fitness"],
        search_fitness=summary["search_fitness"], individuals=summary["individuals"],
        experiments=summary["experiments"], elapsed_s=summary["elapsed_s"], folder=folder,
        history=tuple(read_log(folder / LOG_FILE)), summary=summary)


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


# the hold bar and its ceilings: they act only on an island that takes migrants from other
# tasks (the bar is set above the best of them)
ARRIVAL_KEYS = ("hold_above_arrivals", "release_above_arrivals", "release_after_rise")


def idle_restart_keys(cfg: ExperimentConfig) -> list[str]:
    """The keys that shape an island restart rule (``restart_below``, ``hold_above_arrivals``,
    ``release_above_arrivals``, ``release_after_rise``, ``stagnation_growth``,
    ``backtracks``, a group's ``fresh_tasks``) set where no island they apply to restarts
    (``max_stagnation`` = 0): they do nothing; so do the hold and its ceilings where no
    island they apply to both restarts and takes migrants from other tasks (main islands:
    from a group; a group's islands: ``takes_migrants``).
    ``[migration]``'s apply to the main islands and to every group that does not set its
    own."""
    migration, idle = cfg.migration, []
    groups = migration.groups

    def uses(key: str, group: IslandGroup | None) -> bool:
        if not group_config(cfg, group).migration.max_stagnation:
            return False
        if key not in ARRIVAL_KEYS:
            return True
        return bool(groups) if group is None else group.takes_migrants

    for key, off in (("restart_below", 1.0), ("hold_above_arrivals", 0.0),
                     ("release_above_arrivals", 0.0), ("release_after_rise", 0.0),
                     ("stagnation_growth", 1.0), ("backtracks", 0), ("fresh_tasks", False)):
        if getattr(migration, key) != off:  # fresh_tasks: a group's key only
            users = [None] + [g for g in groups if getattr(g, key) is None]
            if not any(uses(key, g) for g in users):
                idle.append(f"migration.{key}")
        for k, group in enumerate(groups, 1):
            if getattr(group, key) not in (None, off) and not uses(key, group):
                idle.append(f"migration.groups[{k}].{key}")
    return idle


def worker_count(workers: int | str | None, capped: bool = True) -> int:
    """Worker processes for ``workers`` (a number, ``"all"`` or None: every core). With
    ``capped``, more than the cores is capped at the cores, with a warning: extra workers only
    share the cores, and each round waits for the slowest island."""
    available = cores()
    if workers is None or (isinstance(workers, str)
                           and workers.strip().lower() in ("all", "auto")):
        return available
    try:
        count = int(workers)
    except ValueError:
        count = 0
    if count < 1 or isinstance(workers, bool):
        raise AmzConfigError(f"--workers must be a positive number or 'all', not {workers!r}")
    if capped and count > available:
        log.warning("%d workers asked for, but this machine has %d cores; using %d "
                    "(--force-workers, or force_workers=True, runs %d)",
                    count, available, available, count)
        return available
    return count


__all__ = ["EvolveResult", "RunInfo", "cores", "evolve", "worker_count"]
