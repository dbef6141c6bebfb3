"""The single mutations between the Figure 5 search's rungs, scored: which steps toward a
trained hidden layer have a fitness signal, and which cross a valley.

Every program here is rung 1 (linear regression by SGD) or rung 2 (SGD on max(x, 0)) of
bench/figure5_ladder.py, with the pieces of rung 5 (both layers trained) already written into
instructions whose results nothing reads yet: the hidden layer ``v1 = dot(m0, v0)`` in Predict,
and its update ``v6 = s2 * v3; m1 = outer(v6, v0); m0 = m0 + m1`` in Learn. Those pieces are
neutral (they change no prediction), so a population can gather them by drift. What is left
is the switch that makes the prediction read the hidden layer:

- from rung 1 it takes two changes: the prediction must read the hidden activations
  (``s1 = dot(v2, v3)``) and the output layer's step must follow them (``v5 = s2 * v2``);
  each change alone breaks the program;
- from rung 2 it takes one: the ReLU's input ``max(v0, v7)`` becomes ``max(v1, v7)``, and
  both the prediction and the step already read the ReLU's output.

The steps from rung 1 to rung 2 (the prediction and the step moving from ``x`` to
``max(x, 0)``) are scored too.

Each program is checked against configs/figure5.toml's search space and scored on its 100
final teacher tasks at the best of ``--rates`` (as the ladder is).

It also scores rungs 1, 2 and 2b (bench/figure5_ladder/2b_trained_floors.amz, at its best
rate) on the search tasks that runs of ``--run-seeds`` draw, 5 of them (the paper setting's)
and 20 (configs/figure5.toml's): whether a run's own tasks reward the stepping stones.

Usage: python bench/figure5_paths.py [--rates 0.003,0.01,0.03] [--run-seeds 1,2,3,4,5,6]
       [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figure5_ladder as ladder  # noqa: E402

RESULTS = ladder.ROOT / "bench" / "results" / "figure5_paths.json"

HIDDEN_STEP = "  v6 = s2 * v3\n  m1 = outer(v6, v0)\n  m0 = m0 + m1\n"


def program(relu_in: str, predict_in: str, learn_in: str, hidden_step: bool, rate: float) -> str:
    """Rung 1 or 2 with the hidden layer's pieces in place; the arguments pick the switches."""
    return ("def Setup():\n  m0 = gaussian(0.0, 1.0)\n  v3 = gaussian(0.0, 0.1)\n"
            f"  s3 = {rate}\n"
            "def Predict():\n  v1 = dot(m0, v0)\n"
            f"  v2 = maximum({relu_in}, v7)\n  s1 = dot({predict_in}, v3)\n"
            "def Learn():\n  s2 = s0 - s1\n  s2 = s2 * s3\n"
            f"  v5 = s2 * {learn_in}\n{HIDDEN_STEP if hidden_step else ''}  v3 = v3 + v5\n")


# name → (what it is, relu input, prediction's features, output step's features, hidden step)
STEPS = {
    "1": ("rung 1 with the hidden pieces unread (neutral)", "v1", "v0", "v0", True),
    "1+predict": ("from 1: the prediction reads the hidden layer", "v1", "v2", "v0", True),
    "1+learn": ("from 1: the output step follows the hidden layer", "v1", "v0", "v2", True),
    "1+both": ("from 1: both changes (= rung 5)", "v1", "v2", "v2", True),
    "2": ("rung 2 with the hidden pieces unread (neutral)", "v0", "v2", "v2", True),
    "2+relu": ("from 2: the ReLU reads the hidden layer (= rung 5)", "v1", "v2", "v2", True),
    "1 bare": ("rung 1 without the hidden step; max(x, 0) computed, unread", "v0", "v0",
               "v0", False),
    "1 bare+predict": ("from 1 bare: the prediction reads max(x, 0)", "v0", "v2", "v0", False),
    "1 bare+learn": ("from 1 bare: the output step follows max(x, 0)", "v0", "v0", "v2",
                     False),
    "2 bare": ("rung 2 without the hidden step (= 1 bare with both changes)", "v0", "v2", "v2",
               False),
    "2 bare+relu": ("from 2 bare: the ReLU reads the hidden layer (= rung 3)", "v1", "v2",
                    "v2", False),
}


def search_signal(cfg, programs: dict[str, str], run_seeds: list[int],
                  counts: tuple[int, ...]) -> list[dict]:
    """Rungs 1, 2 and 2b (at their best rates on the final tasks) on the search tasks a run
    of each seed draws (its first experiment's), ``counts`` of them: a search sees the step
    from one rung to the next only where its own tasks reward it."""
    from dataclasses import replace

    from amzc.search.experiment import first_experiment_tasks
    from amzc.tasks import build_tasks

    rows = []
    for seed in run_seeds:
        drawn, _ = first_experiment_tasks(replace(cfg, seed=seed))
        for count in counts:
            spec = replace(drawn, num_tasks=count)
            tasks = build_tasks(spec)
            scores = {step: ladder.score(programs[step], step, cfg, tasks, "llvm", 1)
                      for step in ("1 bare", "2 bare", "2b")}
            rows.append({"run_seed": seed, "search_tasks": count, "rung_1": scores["1 bare"],
                         "rung_2": scores["2 bare"], "rung_2b": scores["2b"]})
            print(f"run seed {seed}, {count:2d} search tasks: rung 1 {scores['1 bare']:.3f}, "
                  f"rung 2 {scores['2 bare']:.3f}, rung 2b {scores['2b']:.3f}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.003,0.01,0.03",
                        help="learning rates to sweep (comma-separated)")
    parser.add_argument("--run-seeds", default="1,2,3,4,5,6",
                        help="run seeds whose search tasks score rung 1 against rung 2")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rates = ladder.parse_rates(parser, args.rates)
    from amzc.search.config import load_config
    from amzc.tasks import build_tasks

    cfg = load_config(ladder.CONFIG)
    tasks = build_tasks(cfg.final_tasks.spec)
    start = time.time()
    rows = []
    for name, (description, *switches) in STEPS.items():
        sweep = {str(rate): ladder.score(program(*switches, rate), name, cfg, tasks, "llvm", 1)
                 for rate in rates}
        best = max(sweep, key=sweep.get)
        rows.append({"step": name, "description": description, "fitness": sweep[best],
                     "learning_rate": float(best), "sweep": sweep,
                     "program": program(*switches, float(best))})
        print(f"{sweep[best]:.3f}  {name:12s} {description}")
    # rung 2b (the floors trained through the output weights), the family the 30-minute
    # searches reached, from bench/figure5_ladder/ at its best rate on the final tasks
    source = (ladder.LADDER / "2b_trained_floors.amz").read_text(encoding="utf-8")
    floors_sweep, best_floors = ladder.sweep(source, "2b", cfg, tasks, rates)
    floors_rate = float(best_floors)
    print(f"{floors_sweep[best_floors]:.3f}  2b           rung 2b, at {floors_rate}")
    signal = search_signal(cfg, {**{r["step"]: r["program"] for r in rows},
                                 "2b": ladder.with_rate(source, floors_rate)},
                           [int(s) for s in args.run_seeds.split(",")], (5, 20))
    result = {"benchmark": "figure5_paths", "config": str(ladder.CONFIG.relative_to(ladder.ROOT)),
              "rates": rates, "wall_s": time.time() - start, "steps": rows,
              "rung_2b": {"learning_rate": floors_rate, "sweep": floors_sweep},
              "search_signal": signal}
    ladder.write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
