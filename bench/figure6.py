"""The paper's Figure 6: classifiers evolved from empty programs on projected binary digits,
with the progress plot, the baselines and the transfer to more features.

For each seed: run ``configs/figure6.toml`` (or ``--config``) for a budget of wall time or
individuals, draw its progress plot (what ``amzc plot`` draws) to
bench/results/figure6_seed<N>.png, then score the found program and logistic regression on the
same 100 held-out-pair final tasks at F = 64. Digits images have 64 pixels, so F = 64 keeps
every pixel: the tasks are the final tasks of F = 16 (same seeds, so the same class pairs,
splits and example order) with a 64 × 64 Gaussian projection in place of the 64 × 16 one, an
invertible map of the pixels (with probability 1), standardized as always. This is the
paper's transfer test (evolve at F = 16, evaluate at the full dimension) at digits' scale.

Usage: python bench/figure6.py [--seeds 1,2,3] [--budget-s 600 | --individuals N]
       [--workers N] [--config configs/figure6.toml] [--data-dir DIR] [--runs runs/figure6]
       [--out bench/results/figure6.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "figure6.toml"
RESULTS = ROOT / "bench" / "results" / "figure6.json"
RUNS = ROOT / "runs" / "figure6"
LOGISTIC = ROOT / "examples" / "logistic_regression.amz"
TRANSFER_FEATURES = 64  # every pixel of an 8 × 8 digit
TRANSFER_SEED = 1  # random ops at F = 64 (the same for every program scored)
GOAL = 0.95


def configure(path: Path, seed: int, budget_s: float = 0.0, individuals: int = 0,
              data_dir: str | None = None) -> Any:
    """The experiment of ``path`` for ``seed``, its stop rule replaced by the budget (wall
    seconds for the whole run, or individuals per experiment) and its image folder, if given,
    by ``data_dir``."""
    from amzc.search.config import load_config

    cfg = load_config(path, seed)
    if budget_s or individuals:
        cfg = replace(cfg, stop=replace(cfg.stop, max_time_s=float(budget_s),
                                        max_individuals=int(individuals)))
    if data_dir is not None:
        folder = str(Path(data_dir).expanduser().resolve())
        cfg = replace(cfg, **{
            name: replace(tasks, spec=replace(tasks.spec, data_dir=folder))
            for name, tasks in (("search_tasks", cfg.search_tasks),
                                ("select_tasks", cfg.select_tasks),
                                ("final_tasks", cfg.final_tasks))})
    return cfg


def evolve(cfg: Any, folder: Path, workers: int, config_dir: Path) -> dict[str, Any]:
    """One run as ``amzc evolve --quiet --force [--workers N]`` makes it."""
    from amzc.search.experiment import Run
    from amzc.search.island_run import IslandRun
    from amzc.search.islands import LocalPool
    from amzc.search.progress import Display

    if workers == 1:
        return Run.start(cfg, folder, Display(), config_dir=config_dir, force=True).run()
    Run.prepare(cfg, folder, True)
    pool = LocalPool(workers)
    runner = IslandRun.start_islands(cfg, folder, pool, cfg.migration.islands or pool.workers,
                                     Display(), config_dir, force=True)
    return runner.run()


def transfer(cfg: Any, program_text: str, features: int = TRANSFER_FEATURES) -> dict[str, float]:
    """Final-task accuracy of the found program and of logistic regression at ``features``."""
    from amzc.parse import parse, parse_file
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.tasks import build_tasks

    tasks = build_tasks(replace(cfg.final_tasks.spec, features=features))
    backend = load_backend(cfg.backend)
    memory = cfg.search_space.memory
    found, _ = evaluate_on(parse(program_text), tasks, memory, backend, TRANSFER_SEED,
                           cfg.max_abs_error)
    logistic, _ = evaluate_on(parse_file(LOGISTIC), tasks, memory, backend, TRANSFER_SEED,
                              cfg.max_abs_error)
    return {"features": features, "evolved": found, "logistic_regression": logistic}


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from amzc.report.plot import plot_run
    from amzc.report.rundir import load_run

    cfg = configure(args.config, seed, args.budget_s, args.individuals, args.data_dir)
    folder = args.runs / f"seed{seed}"
    start = time.time()
    result = evolve(cfg, folder, args.workers, args.config.resolve().parent)
    wall = time.time() - start
    png = args.out.parent / f"{args.out.stem}_seed{seed}.png"
    plot_run(load_run(folder), png)
    baselines = {Path(b["file"]).stem: b["final_fitness"] for b in result["baselines"]}
    return {
        "seed": seed, "final_accuracy": result["final_fitness"],
        "select_accuracy": result["select_fitness"], "search_fitness": result["search_fitness"],
        "baselines": baselines, "individuals": result["individuals"],
        "wall_s": wall, "individuals_per_s": result["individuals"] / wall if wall else 0.0,
        "fec_hit_rate": result["fec_hit_rate"], "hurdle_stop_rate": result["hurdle_stop_rate"],
        "program": result["simplified_program"], "transfer": transfer(cfg, result["program"]),
        "plot": shown(png), "run_folder": shown(folder),
    }


def shown(path: Path) -> str:
    """A path as the JSON records it: relative to the repository when inside it, so that
    results read the same on every checkout."""
    full = path.resolve()
    return str(full.relative_to(ROOT) if full.is_relative_to(ROOT) else path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--seeds", default="1", help="comma-separated seeds (default 1)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget-s", type=float, default=0.0,
                        help="wall seconds per seed (default: the config's stop rule)")
    budget.add_argument("--individuals", type=int, default=0,
                        help="individuals per experiment (default: the config's stop rule)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, one island each (default 1: one population)")
    parser.add_argument("--data-dir", help="CIFAR-10's python batches (cifar10 configs)")
    parser.add_argument("--runs", type=Path, default=RUNS, help="run folders (seed<N> inside)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, not {args.seeds!r}")
    if not seeds or args.workers < 1 or args.budget_s < 0 or args.individuals < 0:
        parser.error("give at least one seed; --workers ≥ 1; budgets ≥ 0")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in seeds:
        rows.append(run_seed(args, seed))
        print(f"seed {seed} done ({rows[-1]['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    result = {"benchmark": "figure6", "config": shown(args.config), "workers": args.workers,
              "budget_s": args.budget_s, "individuals_budget": args.individuals,
              "goal": GOAL, "reached_goal": sum(r["final_accuracy"] >= GOAL for r in rows),
              "seeds": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    names = sorted({name for r in rows for name in r["baselines"]})
    print(f"{'seed':>4} {'final':>7} {'select':>7} " + " ".join(f"{n[:14]:>14}" for n in names)
          + f" {'F=64':>7} {'LR F=64':>7} {'individuals':>11} {'ind/s':>6}")
    for r in rows:
        t = r["transfer"]
        print(f"{r['seed']:4} {r['final_accuracy']:7.4f} {r['select_accuracy']:7.4f} "
              + " ".join(f"{r['baselines'][n]:14.4f}" for n in names)
              + f" {t['evolved']:7.4f} {t['logistic_regression']:7.4f} "
              f"{r['individuals']:11,} {r['individuals_per_s']:6.0f}")
    print(f"wrote {args.out} and {len(rows)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
