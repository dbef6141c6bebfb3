"""The paper's Table S5 on projected binary digits: "Basic" search (no FEC, no hurdles) against
"Full" search (FEC + hurdles), on 1 and 2 worker processes, at equal CPU budget per row.

Every row runs the Figure 6 setting (``configs/figure6.toml``, or ``--config``) from empty
programs, over ``--seeds``; only the search method and the process count differ. The CPU
budget of a row is ``--cpu-s`` seconds: one process runs one population for that long, two
processes run two islands with migration (``amzc evolve --workers 2``, docs/scaling.md) for
half as long. The budget is wall time × processes, so on a machine that other jobs share the
rows get what the machine gives them; the individuals each row evaluated are in the JSON.
Each row reports the best held-out accuracy (the final accuracy on the 100 held-out-pair
tasks of the program chosen on T_select) as mean ± 2 SEM over the seeds.

With ``--jobs 2`` the one-process runs go two at a time, each on a core of its own (the
two-process runs always run alone): on a 2-core machine the table takes about two thirds of
the time, at the same CPU budget per run.

Usage: python bench/table_s5.py [--seeds 1,2,3] [--cpu-s 600] [--rows basic-1,full-1,...]
       [--jobs 1] [--config configs/figure6.toml] [--data-dir DIR]
       [--out bench/results/table_s5.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import figure6  # bench/, beside this script
from jobs import side_by_side
from revision import git_revision

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "table_s5.json"


# (name, FEC and hurdles on, worker processes)
ROWS = {"basic-1": ("Basic", False, 1), "full-1": ("Full", True, 1),
        "basic-2": ("Basic", False, 2), "full-2": ("Full", True, 2)}
# The paper's Table S5 (projected binary CIFAR-10, best accuracy ± 2 SEM; logistic
# regression 0.702, the reference's neural network 0.729 there).
PAPER = {"basic-1": 0.671, "basic-10": 0.681, "basic-100": 0.691,
         "full-1": 0.684, "full-10": 0.693, "full-100": 0.707}


def mean_2sem(values: list[float]) -> tuple[float, float]:
    """Mean and twice the standard error of the mean (0 for a single value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, 2 * statistics.stdev(values) / math.sqrt(len(values))


def run_row(args: argparse.Namespace, row: str, seed: int) -> dict[str, Any]:
    method, full, workers = ROWS[row]
    cfg = figure6.configure(args.config, seed, budget_s=args.cpu_s / workers,
                            data_dir=args.data_dir)
    cfg = replace(cfg, fec=replace(cfg.fec, enabled=full),
                  hurdles=replace(cfg.hurdles, enabled=full), baselines=())
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        result = figure6.evolve(cfg, Path(tmp) / "run", workers, args.config.resolve().parent)
    return {"row": row, "method": method, "workers": workers, "seed": seed,
            "final_accuracy": result["final_fitness"], "select_accuracy":
            result["select_fitness"], "individuals": result["individuals"],
            "wall_s": time.time() - start, "program": result["simplified_program"]}


def _report(run: dict[str, Any]) -> None:
    print(f"{run['row']} seed {run['seed']}: {run['final_accuracy']:.4f} "
          f"({run['individuals']:,} individuals, {run['wall_s']:.0f} s)",
          file=sys.stderr, flush=True)


def run_all(args: argparse.Namespace, rows: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    """Every (row, seed) run, in that order; one-process runs ``args.jobs`` at a time, each in
    a process of its own; two-process runs alone."""
    order = [(row, seed) for row in rows for seed in seeds]
    single = [key for key in order if ROWS[key[0]][2] == 1]
    done = dict(zip(single, side_by_side(run_row, [(args, *key) for key in single], args.jobs,
                                         _report), strict=True))
    for key in order:
        if key not in done:
            done[key] = run_row(args, *key)
            _report(done[key])
    return [done[key] for key in order]


def summarize(runs: list[dict[str, Any]], rows: list[str]) -> list[dict[str, Any]]:
    table = []
    for row in rows:
        mine = [r for r in runs if r["row"] == row]
        mean, sem2 = mean_2sem([r["final_accuracy"] for r in mine])
        method, _, workers = ROWS[row]
        table.append({"row": row, "method": method, "workers": workers, "seeds": len(mine),
                      "accuracy": mean, "two_sem": sem2,
                      "individuals": statistics.fmean(r["individuals"] for r in mine),
                      "paper_cifar10": PAPER.get(row)})
    return table


def markdown(table: list[dict[str, Any]], cpu_s: float, baselines: dict[str, float]) -> str:
    lines = ["| search | processes | CPU budget | best held-out accuracy (± 2 SEM) | seeds | "
             "individuals (mean) | paper, CIFAR-10 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        paper = f"{r['paper_cifar10']:.3f}" if r["paper_cifar10"] is not None else "–"
        lines.append(f"| {r['method']} | {r['workers']} | {cpu_s:,.0f} s | "
                     f"{r['accuracy']:.4f} ± {r['two_sem']:.4f} | {r['seeds']} | "
                     f"{r['individuals']:,.0f} | {paper} |")
    for name, accuracy in baselines.items():
        paper = {"logistic_regression": "0.702", "neural_net": "0.729"}.get(name, "–")
        lines.append(f"| {name} (hand-written) | – | – | {accuracy:.4f} | – | – | {paper} |")
    return "\n".join(lines)


def baseline_scores(args: argparse.Namespace) -> dict[str, float]:
    """The config's baselines on the same final tasks (what `amzc evolve` prints beside the
    result)."""
    from amzc.parse import parse_file
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.tasks import build_tasks

    cfg = figure6.configure(args.config, 1, data_dir=args.data_dir)
    tasks = build_tasks(cfg.final_tasks.spec)
    backend = load_backend(cfg.backend)
    return {path.stem: evaluate_on(parse_file(path), tasks, cfg.search_space.memory, backend,
                                   figure6.TRANSFER_SEED, cfg.max_abs_error)[0]
            for path in cfg.baselines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=figure6.CONFIG)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    parser.add_argument("--cpu-s", type=float, default=600.0,
                        help="CPU seconds per run: wall seconds × processes (default 600)")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma-separated rows (default all: {', '.join(ROWS)})")
    parser.add_argument("--jobs", type=int, default=1,
                        help="one-process runs at a time, each in its own process (default 1; "
                        "at most the machine's cores, or they share them and the CPU budget "
                        "no longer holds)")
    parser.add_argument("--data-dir", help="CIFAR-10's python batches (cifar10 configs)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, not {args.seeds!r}")
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows or not seeds or args.cpu_s <= 0 or args.jobs < 1:
        parser.error(f"rows from {', '.join(ROWS)} (unknown: {unknown}); at least one seed; "
                     "--cpu-s > 0; --jobs ≥ 1")
    start = time.time()
    revision = git_revision()  # at the start: the code the runs measure
    runs = run_all(args, rows, seeds)
    table = summarize(runs, rows)
    baselines = baseline_scores(args)
    text = markdown(table, args.cpu_s, baselines)
    result = {"benchmark": "table_s5", "revision": revision, "config": figure6.shown(args.config),
              "cpu_s": args.cpu_s, "jobs": args.jobs,
              "seeds": seeds, "wall_s": time.time() - start, "rows": table,
              "baselines": baselines, "runs": runs, "markdown": text}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"wrote {args.out} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
