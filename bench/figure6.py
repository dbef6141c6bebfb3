"""The paper's Figure 6: classifiers evolved from empty programs on projected binary digits,
with the progress plot, the baselines and the transfer to more features.

For each seed: run ``configs/figure6.toml`` (or ``--config``) for a budget of wall time or
individuals, draw its progress plot (what ``amzc plot`` draws) to
bench/results/figure6_seed<N>.png (the curves of all seeds on the final tasks go to
figure6_curves.png), then score the found program and logistic regression on the
same 100 held-out-pair final tasks at F = 64. Digits images have 64 pixels, so F = 64 keeps
every pixel: the tasks are the final tasks of F = 16 (same seeds, so the same class pairs,
splits and example order) with a 64 × 64 Gaussian projection in place of the 64 × 16 one, an
invertible map of the pixels (with probability 1), standardized as always. This is the
paper's transfer test (evolve at F = 16, evaluate at the full dimension) at digits' scale.

It also scores, on the same final tasks, every new best the run logged: the search's best at
that moment, which a run of one experiment stopped then returns without ``run.select_bests``
(with it, the run returns the logged best scoring highest on T_select, which can differ). That
curve gives the time and the individuals to the goal (≥ 0.95 on the final tasks).

Usage: python bench/figure6.py [--seeds 1,2,3] [--budget-s 600 | --individuals N]
       [--workers N | --jobs N] [--config configs/figure6.toml] [--set KEY=VALUE ...]
       [--data-dir DIR] [--runs runs/figure6] [--out bench/results/figure6.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from jobs import side_by_side  # bench/, beside this script
from revision import git_revision

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "figure6.toml"
RESULTS = ROOT / "bench" / "results" / "figure6.json"
RUNS = ROOT / "runs" / "figure6"
LOGISTIC = ROOT / "examples" / "logistic_regression.amz"
TRANSFER_FEATURES = 64  # every pixel of an 8 × 8 digit
TRANSFER_SEED = 1  # random ops at F = 64 (the same for every program scored)
GOAL = 0.95


def configure(path: Path, seed: int, budget_s: float = 0.0, individuals: int = 0,
              data_dir: str | None = None, overrides: dict[str, Any] | None = None) -> Any:
    """The experiment of ``path`` for ``seed`` with ``overrides`` (``--set``, as ``amzc
    evolve`` reads them), its stop rule replaced by the budget (wall seconds for the whole
    run, or individuals per experiment) and its image folder, if given, by ``data_dir``."""
    from amzc.search.config import load_config

    cfg = load_config(path, seed, overrides=overrides)
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


def curve(cfg: Any, folder: Path) -> list[dict[str, Any]]:
    """Final-task accuracy of every best the run logged, in order: the search's best at each
    point (the log names the first program to reach each search fitness), not the choice
    ``run.select_bests`` makes among them."""
    from amzc.parse import parse
    from amzc.rng import derive_key
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.search.experiment import FINAL_SEED
    from amzc.search.progress import read_log
    from amzc.tasks import build_tasks

    tasks = build_tasks(cfg.final_tasks.spec)
    backend = load_backend(cfg.backend)
    seed = derive_key(cfg.seed, 0, FINAL_SEED)  # the run's own final evaluation
    points: list[dict[str, Any]] = []
    scored: dict[str, float] = {}
    for record in read_log(folder / "progress.jsonl"):
        if record.get("kind") != "best":
            continue
        text = record["program"]
        if text not in scored:
            scored[text], _ = evaluate_on(parse(text), tasks, cfg.search_space.memory, backend,
                                          seed, cfg.max_abs_error)
        points.append({"elapsed_s": record["elapsed_s"], "individuals": record["individuals"],
                       "search_fitness": record["fitness"], "final_accuracy": scored[text]})
    return points


def plot_curves(rows: list[dict[str, Any]], path: Path) -> None:
    """Final-task accuracy of each seed's logged bests against wall seconds, with the goal and
    the hand-written baselines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for row in rows:
        xs = [p["elapsed_s"] for p in row["curve"]] + [row["wall_s"]]
        ys = [p["final_accuracy"] for p in row["curve"]] + [row["final_accuracy"]]
        label = row.get("label") or f"seed {row['seed']}"
        ax.step(xs, ys, where="post", label=f"{label} (result {row['final_accuracy']:.4f})")
    # the y range shows where the runs are once they have a learning rule (≥ 0.9), not the
    # 0.5 of the empty programs they start from
    late = [p["final_accuracy"] for r in rows for p in _from_first(r["curve"], 0.9)]
    late += [r["final_accuracy"] for r in rows]
    low = max(0.45, min(min(late) - 0.02, 0.9))
    ax.set_ylim(low, 1.0)
    ax.axhline(GOAL, color="grey", ls="--", lw=0.8)
    fractions = ax.get_yaxis_transform()  # x in axes fractions, y in data
    ax.text(0.01, GOAL, f"goal {GOAL}", va="bottom", color="grey", transform=fractions)
    for name, accuracy in rows[0]["baselines"].items():
        if accuracy > low:  # a label outside the axes would squeeze the plot
            ax.axhline(accuracy, color="silver", ls=":", lw=0.8)
            ax.text(0.99, accuracy, f"{name.replace('_', ' ')} {accuracy:.4f}", va="bottom",
                    ha="right", color="grey", transform=fractions)
    ax.set_xlabel("wall seconds" + (f" ({rows[0]['workers']} worker processes)"
                                    if rows[0].get("workers", 1) > 1 else " (one process)"))
    ax.set_ylabel("accuracy on the 100 held-out-pair final tasks")
    ax.set_title("Figure 6 from empty programs: each logged best on the final tasks")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def _from_first(points: list[dict[str, Any]], accuracy: float) -> list[dict[str, Any]]:
    """The points from the first one at ``accuracy`` or above on (none if no point is)."""
    start = next((i for i, p in enumerate(points) if p["final_accuracy"] >= accuracy),
                 len(points))
    return points[start:]


def first_at_goal(points: list[dict[str, Any]], goal: float = GOAL) -> dict[str, Any] | None:
    return next((p for p in points if p["final_accuracy"] >= goal), None)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (island workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from amzc.report.plot import plot_run
    from amzc.report.rundir import load_run

    cfg = configure(args.config, seed, args.budget_s, args.individuals, args.data_dir,
                    args.overrides)
    folder = args.runs / f"seed{seed}"
    start, cpu_start = time.time(), cpu_seconds()
    result = evolve(cfg, folder, args.workers, args.config.resolve().parent)
    wall, cpu = time.time() - start, cpu_seconds() - cpu_start
    png = args.out.parent / f"{args.out.stem}_seed{seed}.png"
    plot_run(load_run(folder), png)
    baselines = {Path(b["file"]).stem: b["final_fitness"] for b in result["baselines"]}
    points = curve(cfg, folder)
    goal = first_at_goal(points)
    return {
        "seed": seed, "workers": args.workers, "final_accuracy": result["final_fitness"],
        "select_accuracy": result["select_fitness"], "search_fitness": result["search_fitness"],
        "baselines": baselines, "individuals": result["individuals"],
        "wall_s": wall, "cpu_s": cpu,
        "individuals_per_s": result["individuals"] / wall if wall else 0.0,
        "fec_hit_rate": result["fec_hit_rate"], "hurdle_stop_rate": result["hurdle_stop_rate"],
        "goal_reached_s": goal["elapsed_s"] if goal else None,
        "goal_reached_individuals": goal["individuals"] if goal else None,
        "program": result["simplified_program"], "transfer": transfer(cfg, result["program"]),
        "curve": points, "plot": shown(png), "run_folder": shown(folder),
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
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds at a time, each in a process of its own (default 1; with "
                        "--workers 1, at most the machine's cores: --jobs 2 runs two seeds "
                        "side by side on a 2-core machine)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a config override, as amzc evolve --set "
                        "(e.g. tasks.search.num_tasks=10); repeatable")
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
    if args.jobs < 1 or (args.jobs > 1 and args.workers > 1):
        parser.error("--jobs ≥ 1, and --jobs > 1 only with --workers 1 (each seed's islands "
                     "already take a core each)")
    from amzc.search.config import parse_override

    args.overrides = dict(parse_override(text) for text in args.settings)
    revision = git_revision()  # at the start: the code the runs measure
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = side_by_side(run_seed, [(args, seed) for seed in seeds], args.jobs,
                        lambda row: print(f"seed {row['seed']} done ({row['wall_s']:.0f} s)",
                                          file=sys.stderr, flush=True))
    result = {"benchmark": "figure6", "revision": revision, "config": shown(args.config),
              "workers": args.workers,
              "jobs": args.jobs, "overrides": args.overrides, "budget_s": args.budget_s,
              "individuals_budget": args.individuals,
              "goal": GOAL, "reached_goal": sum(r["final_accuracy"] >= GOAL for r in rows),
              "seeds": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    curves = args.out.parent / f"{args.out.stem}_curves.png"
    plot_curves(rows, curves)
    names = sorted({name for r in rows for name in r["baselines"]})
    print(f"{'seed':>4} {'final':>7} {'select':>7} " + " ".join(f"{n[:14]:>14}" for n in names)
          + f" {'F=64':>7} {'LR F=64':>7} {'individuals':>11} {'ind/s':>6} {'goal at':>8}")
    for r in rows:
        t = r["transfer"]
        print(f"{r['seed']:4} {r['final_accuracy']:7.4f} {r['select_accuracy']:7.4f} "
              + " ".join(f"{r['baselines'][n]:14.4f}" for n in names)
              + f" {t['evolved']:7.4f} {t['logistic_regression']:7.4f} "
              f"{r['individuals']:11,} {r['individuals_per_s']:6.0f} "
              + (f"{r['goal_reached_s']:7.0f}s" if r["goal_reached_s"] is not None
                 else f"{'—':>8}"))
    print(f"wrote {args.out}, {curves.name} and {len(rows)} progress plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
