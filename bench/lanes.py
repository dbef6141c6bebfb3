"""Native evaluation time by SIMD width: what `lanes_for` chooses, measured (docs/llvm.md).

The LLVM backend runs W tasks in the lanes of one SIMD value; K tasks run as ceil(K / W)
groups, the last one padded. This bench evaluates the same programs, through the interpreter
tier (the search's), at every width W in 2, 4, 8, 16 and each task count given, and reports
the median CPU time per evaluation over ``--repeats`` interleaved passes, with the width
``amzc.backends.llvm.layout.lanes_for`` picks. It also checks that every width gives
bit-identical fitness.

Programs: for a config with start programs (``--starts``, default bench/figure5_start/ for
configs/figure5.toml), ``--mutants`` mutants of each (one to three of the config's
mutations, dead code removed, as the search's evaluator runs them); otherwise random programs
of the config's space and their mutants. Tasks: the config's first T_search (its first task
spec re-seeded as a run of ``--seed`` draws it), at each ``--tasks`` count.

Usage: python bench/lanes.py [--config configs/figure5.toml] [--tasks 5,12,20]
       [--repeats 5] [--out bench/results/lanes.json]
       python bench/lanes.py --config configs/demo.toml --tasks 10 --out ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from revision import git_revision  # bench/, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amzc import EvalOptions, parse  # noqa: E402
from amzc.backends.llvm import LlvmBackend  # noqa: E402
from amzc.backends.llvm.layout import LANE_WIDTHS, lanes_for  # noqa: E402
from amzc.passes.dce import eliminate_dead_code  # noqa: E402
from amzc.search.config import load_config  # noqa: E402
from amzc.search.experiment import first_experiment_tasks  # noqa: E402
from amzc.search.mutation import Mutator  # noqa: E402
from amzc.search.random_program import random_program  # noqa: E402
from amzc.tasks import build_tasks  # noqa: E402

FIGURE5 = ROOT / "configs" / "figure5.toml"
FIGURE5_STARTS = ROOT / "bench" / "figure5_start"


def programs(cfg, starts: list[Path], mutants: int, seed: int) -> list:
    rng = random.Random(seed)
    space = cfg.search_space
    mutator = Mutator(space, cfg.mutation)
    bases = ([parse(path.read_text(), path.name) for path in starts] if starts
             else [random_program(rng, space) for _ in range(8)])
    out = []
    for base in bases:
        for _ in range(mutants):
            child = base
            for _ in range(rng.randint(1, 3)):
                child = mutator.mutate(child, rng)
            out.append(eliminate_dead_code(child))
    return out


def measure(cfg, progs: list, num_tasks: int, repeats: int, seed: int) -> dict:
    spec, _ = first_experiment_tasks(cfg)
    tasks = build_tasks(dataclasses.replace(spec, num_tasks=num_tasks))
    memory = cfg.search_space.memory
    options = EvalOptions(max_abs_error=cfg.max_abs_error, seed=seed)
    backends = {w: LlvmBackend(mode="interpret", lanes=w) for w in LANE_WIDTHS}
    fitness = {w: [out.fitness for out in b.run_many(progs, tasks, memory, options)]
               for w, b in backends.items()}  # the first pass builds each interpreter
    first = fitness[LANE_WIDTHS[0]]
    identical = all(np.array_equal(a, b, equal_nan=True)
                    for w in LANE_WIDTHS for a, b in zip(first, fitness[w], strict=True))
    times: dict[int, list[float]] = {w: [] for w in LANE_WIDTHS}
    for _ in range(repeats):
        for w, backend in backends.items():
            start = time.process_time()
            backend.run_many(progs, tasks, memory, options)
            times[w].append((time.process_time() - start) / len(progs) * 1e6)
    medians = {w: statistics.median(t) for w, t in times.items()}
    best = min(medians, key=medians.get)
    chosen = lanes_for(num_tasks)
    return {"num_tasks": num_tasks, "chosen_lanes": chosen, "fastest_lanes": best,
            "us_per_eval": {str(w): m for w, m in medians.items()},
            "runs_us_per_eval": {str(w): t for w, t in times.items()},
            "chosen_vs_fastest": medians[chosen] / medians[best],
            "chosen_vs_16": medians[chosen] / medians[16],
            "bit_identical": identical}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=FIGURE5)
    parser.add_argument("--tasks", default=None,
                        help="comma-separated task counts (default 5,12,20; the config's "
                             "own count for other configs)")
    parser.add_argument("--starts", type=Path, nargs="*", default=None,
                        help="start programs to mutate (default bench/figure5_start/*.amz "
                             "for configs/figure5.toml, random programs otherwise)")
    parser.add_argument("--mutants", type=int, default=40, help="per start program")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lanes.json")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.mutants < 1:
        parser.error("--repeats and --mutants must be at least 1")
    cfg = load_config(args.config, args.seed)
    is_figure5 = args.config.resolve() == FIGURE5.resolve()
    starts = args.starts if args.starts is not None else (
        sorted(FIGURE5_STARTS.glob("*.amz")) if is_figure5 else [])
    try:
        counts = ([int(n) for n in args.tasks.split(",")] if args.tasks
                  else [5, 12, 20] if is_figure5 else [cfg.search_tasks.spec.num_tasks])
    except ValueError:
        parser.error(f"--tasks: expected comma-separated integers, got {args.tasks!r}")
    if any(n < 1 for n in counts):
        parser.error("--tasks: every count must be at least 1")
    missing = [str(p) for p in starts if not p.is_file()]
    if missing:
        parser.error(f"--starts: no such file: {', '.join(missing)}")
    progs = programs(cfg, starts, args.mutants, args.seed)
    rows = []
    for n in counts:
        row = measure(cfg, progs, n, args.repeats, args.seed)
        rows.append(row)
        us = "  ".join(f"W={w}: {m:7.1f}" for w, m in row["us_per_eval"].items())
        print(f"{n:3d} tasks  µs per evaluation  {us}   lanes_for → {row['chosen_lanes']} "
              f"({row['chosen_vs_16']:.2f}× W=16; fastest {row['fastest_lanes']})"
              f"{'' if row['bit_identical'] else '  RESULTS DIFFER'}")
    result = {"benchmark": "lanes", "revision": git_revision(),
              "config": str(args.config), "programs": len(progs),
              "starts": [str(p) for p in starts], "repeats": args.repeats, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(row["bit_identical"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
