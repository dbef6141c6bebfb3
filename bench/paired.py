"""Speed of one code version against another, measured in pairs.

On a shared machine wall time swings by a third within the hour, so two versions are compared
by running them at the same time, one per core, and swapping the cores every round: both see
the same neighbours. The figure is each process's CPU time for the same work. The ratio of a
round is base CPU / head CPU (above 1: head is faster); the median over the rounds is the
result. Two benches (``--bench``):

- ``search`` (default): the demo's search (configs/demo.toml) for a fixed number of
  individuals in one experiment, without early selection, restarts or checkpoints; CPU time
  of the search (start-up and JIT included). Both versions must take the same search path:
  the runs' best fitness and FEC hit rate are compared, and a difference is an error (unless
  ``--other-path``: for a change that alters the search on purpose, the FEC hit rates are
  recorded to show how alike the work was).
- ``random-run``: bench/throughput.py's random-program path, ``LlvmBackend.run`` on a stream
  of fresh random demo programs, as its full mode runs it: one backend evaluates
  ``--programs`` programs (the first stream, interpreter build included: ``cold_cpu_s``),
  then as many fresh ones (``cpu_s``, the ratio's figure). The stream comes from this tree's
  bench/throughput.py, so both versions evaluate the same programs; the fitness of the
  first 200 of the timed stream, on a fresh backend, must agree.

The base is a git revision, checked out into a temporary worktree; the head is this tree
(with its uncommitted changes), or another revision with ``--head`` (to bisect).

Usage: python bench/paired.py BASE_REV [--head REV] [--bench search|random-run] [--rounds 8]
       [--individuals 150000] [--programs 50000] [--seed 1] [--other-path]
       [--config configs/demo.toml] [--set KEY=VALUE ...]
Writes bench/results/paired.json, or paired_random_run.json for random-run (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from revision import git_revision  # bench/, beside this script

ROOT = Path(__file__).resolve().parent.parent

SEARCH_CHILD = """
import json, sys, tempfile, time
from dataclasses import replace
from pathlib import Path
from amzc.search.config import load_config
from amzc.search.experiment import Run

config, seed, individuals = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = load_config(config, seed=seed, overrides=json.loads(sys.argv[4]))
cfg = replace(cfg, early_select=False, max_experiments=1, checkpoint_every=0,
              stop=replace(cfg.stop, max_individuals=individuals, max_train_steps=0,
                           max_stagnation=0, max_time_s=0))
with tempfile.TemporaryDirectory() as tmp:
    run = Run.start(cfg, Path(tmp) / "run")
    cpu = time.process_time()
    result = run.run()
    cpu = time.process_time() - cpu
print(json.dumps({"cpu_s": cpu, "individuals": result["individuals"],
                  "search_fitness": result["search_fitness"],
                  "fec_hit_rate": result["fec_hit_rate"]}))
"""

RANDOM_RUN_CHILD = """
import importlib.util, json, sys
from pathlib import Path
import amzc  # this tree's (PYTHONPATH): the bench module's own sys.path entry comes later

bench, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if not Path(amzc.__file__).resolve().is_relative_to(Path.cwd().resolve()):
    raise SystemExit(f"amzc imported from {amzc.__file__}, not from {Path.cwd()}")
spec = importlib.util.spec_from_file_location("throughput", bench)
tp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tp)
tasks, options = tp.build_tasks(tp.SPEC), tp.EvalOptions()
backend = tp.LlvmBackend()
run = lambda p: backend.run(p, tasks, tp.MEMORY, options)
tp.time_calls(run, tp.random_programs(count, seed=seed))
tp.time_calls(run, tp.random_programs(count, seed=seed + 1))
cold_cpu, cpu = tp.CPU_SECONDS
fresh = tp.LlvmBackend()
fitness = [round(float(fresh.run(p, tasks, tp.MEMORY, options).fitness.mean()), 9)
           for p in tp.random_programs(count, seed=seed + 1)[:200]]
print(json.dumps({"cpu_s": cpu, "cold_cpu_s": cold_cpu, "programs": count,
                  "per_cpu_s": count / cpu, "compiled": len(backend.state.compiled),
                  "fitness": repr(fitness)}))
"""


@dataclass(frozen=True)
class Bench:
    """A child program run in each version's tree: it prints one JSON line with ``cpu_s``."""

    child: str
    argv: Callable[[argparse.Namespace], list[str]]
    same: Callable[[argparse.Namespace], tuple[str, ...]]  # keys both versions must agree on
    kept: tuple[str, ...]  # keys recorded per side in each round
    out: str  # default result file in bench/results/


BENCHES = {
    "search": Bench(
        SEARCH_CHILD,
        lambda a: [str(ROOT / a.config), str(a.seed), str(a.individuals),
                   json.dumps(overrides(a))],
        lambda a: ("individuals",) if a.other_path else (
            "individuals", "search_fitness", "fec_hit_rate"),
        ("fec_hit_rate",), "paired.json"),
    "random-run": Bench(
        RANDOM_RUN_CHILD,
        lambda a: [str(ROOT / "bench" / "throughput.py"), str(a.programs), str(a.seed)],
        lambda a: ("programs", "fitness"),
        ("cold_cpu_s", "per_cpu_s", "compiled"), "paired_random_run.json"),
}


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """The ``--set`` overrides, checked here (with this tree's parser) before any run."""
    from amzc.search.config import parse_override  # this tree's amzc: the import is slow

    return dict(parse_override(text) for text in args.settings)


def start(tree: Path, core: int, child: str, argv: list[str]) -> subprocess.Popen:
    # PYTHONPATH first: an editable install would otherwise import this tree for both sides
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-c", child, *argv]
    if sys.platform.startswith("linux"):
        command = ["taskset", "-c", str(core), *command]
    return subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, name: str) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def paired_rounds(base: Path, head: Path, rounds: int, child: str, argv: list[str],
                  same: tuple[str, ...], kept: tuple[str, ...] = ()) -> list[dict]:
    """``rounds`` rounds of ``child`` run in the trees ``base`` and ``head`` at once, one per
    core, the cores swapped every round; each round's CPU seconds, ratio (base / head) and
    the ``kept`` keys of both sides. The ``same`` keys must agree in every round."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    if len(cores) < 2:
        raise SystemExit("paired runs need two cores")
    results = []
    for r in range(rounds):
        a, b = (cores[0], cores[1]) if r % 2 == 0 else (cores[1], cores[0])
        procs = start(base, a, child, argv), start(head, b, child, argv)
        base_run, head_run = finish(procs[0], "base"), finish(procs[1], "head")
        for key in same:
            if base_run[key] != head_run[key]:
                raise SystemExit(f"the versions took different paths: {key} "
                                 f"{base_run[key]} vs {head_run[key]}")
        ratio = base_run["cpu_s"] / head_run["cpu_s"]
        row = {"base_cpu_s": round(base_run["cpu_s"], 3),
               "head_cpu_s": round(head_run["cpu_s"], 3), "ratio": round(ratio, 4)}
        for key in kept:
            row[f"base_{key}"], row[f"head_{key}"] = base_run[key], head_run[key]
        results.append(row)
        print(f"round {r + 1}: base {base_run['cpu_s']:6.2f} s  head "
              f"{head_run['cpu_s']:6.2f} s  ratio {ratio:.3f}", flush=True)
    return results


@contextmanager
def checkout(rev: str | None) -> Iterator[Path]:
    """A temporary worktree of ``rev`` (None: this tree, as it is)."""
    if rev is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), rev],
                       cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False)


def summary(rounds: list[dict], head_rev: str | None, **fields: object) -> dict:
    """The result file's content: ``fields``, the head (this tree's commit, "+changes" when it
    has uncommitted ones), the median ratio and its range, the rounds."""
    ratios = [r["ratio"] for r in rounds]
    head = head_rev
    if head is None:
        head = git_revision()
    return {**fields, "head": head,
            "median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
            "max_ratio": max(ratios), "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision to compare this tree against")
    parser.add_argument("--head", default=None,
                        help="a git revision to measure instead of this tree (bisection)")
    parser.add_argument("--bench", choices=sorted(BENCHES), default="search")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--individuals", type=int, default=150_000, help="search: per run")
    parser.add_argument("--programs", type=int, default=50_000,
                        help="random-run: programs per stream (as throughput.py's full mode)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", default="configs/demo.toml", help="search: the config")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="search: override a config key, as amzc evolve --set (repeatable; "
                             "one population only: the runs are pinned to one core each)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--other-path", action="store_true",
                        help="search: the versions search differently on purpose (e.g. a new "
                             "random stream): compare CPU time for the same number of "
                             "individuals without requiring the same best fitness and FEC "
                             "hit rate")
    args = parser.parse_args()
    bench = BENCHES[args.bench]
    with checkout(args.base) as base, checkout(args.head) as head:
        rounds = paired_rounds(base, head, args.rounds, bench.child, bench.argv(args),
                               bench.same(args), bench.kept)
    if args.bench == "search":
        fields = {"config": args.config, "overrides": overrides(args), "seed": args.seed,
                  "same_path_required": not args.other_path,
                  "individuals": args.individuals}
    else:
        fields = {"seed": args.seed, "programs": args.programs}
    result = summary(rounds, args.head, bench=args.bench, base=args.base, **fields)
    out = args.out or ROOT / "bench" / "results" / bench.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median ratio {result['median_ratio']:.3f} (base CPU / head CPU, {len(rounds)} "
          f"rounds, {result['min_ratio']:.3f}–{result['max_ratio']:.3f}); wrote {out}")


if __name__ == "__main__":
    main()
