"""What the Figure 5 search's linear island rewards: linear regression by SGD and the Hebbian
rule, each at several learning rates, scored on the linear island's tasks (100 training
examples, as configs/figure5.toml has them, and 1,000; and on 100 examples with the features
scaled per task by ``--spreads``, the linear kind's ``scale_spread``) and on the teacher
island's search tasks, for the tasks that runs of ``--run-seeds`` draw, and on the 100 final
teacher tasks.

The linear island exists to hand the teacher island linear regression by SGD (rung 1 of
bench/figure5_ladder.py). What it selects is what scores on *its* tasks, and on 100 examples
SGD at the learning rates that suit the teacher tasks (0.003-0.01) does not converge: it
scores below the Hebbian rule (``w += lr · y · x``, no error term), a plateau the island can
settle on. On 1,000 examples it converges at those rates too. On scaled features the Hebbian
rule learns Σw instead of w and its best falls below SGD's from rate 0.01 up. With task k's
features times the k-th of ``--scale-sets``' factors (the regression kinds' ``feature_scales``)
SGD without a step size (``sgd_plain``: three Learn instructions) converges on inputs scaled
by 0.35 (|x|² ≈ 1) and diverges on standard ones, so on a mix it pays before the step size
does (lever ``linear_scaled`` of bench/figure5.py).

Both programs lie in the Figure 5 search space (checked).

Usage: python bench/figure5_linear.py [--rates 0.0003,0.001,...] [--run-seeds 1,2,3]
       [--spreads 2,3] [--scale-sets "0.35;0.35,1"] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figure5_ladder as ladder  # noqa: E402

RESULTS = ladder.ROOT / "bench" / "results" / "figure5_linear.json"

PROGRAMS = {
    "sgd": """def Setup():
  s3 = {rate}
def Predict():
  s1 = dot(v0, v3)
def Learn():
  s2 = s0 - s1
  s2 = s2 * s3
  v5 = s2 * v0
  v3 = v3 + v5
""",
    # the same without the error: the weights accumulate label × input
    "hebbian": """def Setup():
  s3 = {rate}
def Predict():
  s1 = dot(v0, v3)
def Learn():
  s2 = s0 * s3
  v5 = s2 * v0
  v3 = v3 + v5
""",
    # SGD without a step size (the rate 1): no {rate}, scored once
    "sgd_plain": """def Setup():
def Predict():
  s1 = dot(v0, v3)
def Learn():
  s2 = s0 - s1
  v5 = s2 * v0
  v3 = v3 + v5
""",
    "empty": "def Setup():\ndef Predict():\ndef Learn():\n",
}


def task_sets(cfg, seed: int, spreads: tuple[float, ...] = (),
              scale_sets: tuple[tuple[float, ...], ...] = ()) -> dict[str, object]:
    """The task specs a run of ``seed`` searches on: its linear island's (as configured, with
    1,000 examples, with each of ``spreads`` as its scale spread, and with each of
    ``scale_sets`` as its feature scales, on four tasks per factor) and its teacher
    island's."""
    from amzc.search.config import group_spec
    from amzc.search.experiment import first_experiment_tasks

    teacher, _ = first_experiment_tasks(replace(cfg, seed=seed))
    (group,) = [g for g in cfg.migration.groups if g.kind == "linear"]
    linear = group_spec(teacher, group)
    sets = {f"linear_{linear.num_train}": linear, "linear_1000": replace(linear, num_train=1000)}
    sets.update({f"linear_{linear.num_train}_spread{k:g}": replace(linear, scale_spread=k)
                 for k in spreads})
    sets.update({"linear_{}_scales{}".format(linear.num_train, ",".join(f"{c:g}" for c in sc)):
                 replace(linear, feature_scales=sc, num_tasks=4 * len(sc)) for sc in scale_sets})
    return sets | {f"teacher_{teacher.num_tasks}": teacher}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.0003,0.001,0.003,0.01,0.03,0.1",
                        help="learning rates (comma-separated)")
    parser.add_argument("--run-seeds", default="1,2,3")
    parser.add_argument("--spreads", default="2,3",
                        help="scale spreads of the extra linear task sets (comma-separated)")
    parser.add_argument("--scale-sets", default="0.35;0.35,1;0.35,0.35,0.35,0.35,1;"
                        "0.35,0.35,0.35,1,1.5",
                        help="feature scales of the extra linear task sets: semicolon-separated "
                        "lists of comma-separated factors")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rates = ladder.parse_rates(parser, args.rates)
    try:
        spreads = tuple(float(k) for k in args.spreads.split(",") if k.strip())
    except ValueError:
        parser.error(f"--spreads: not a list of numbers: {args.spreads!r}")
    from amzc.tasks.spec import MAX_SCALE_SPREAD, is_feature_scale

    if not all(1.0 < k <= MAX_SCALE_SPREAD for k in spreads):  # 1 is linear_100 itself
        parser.error(f"--spreads: each must lie in (1, {MAX_SCALE_SPREAD:g}], not "
                     f"{args.spreads!r}")
    try:
        scale_sets = tuple(tuple(float(c) for c in group.split(","))
                           for group in args.scale_sets.split(";") if group.strip())
    except ValueError:
        parser.error(f"--scale-sets: not lists of numbers: {args.scale_sets!r}")
    if not all(is_feature_scale(c) for sc in scale_sets for c in sc):
        parser.error(f"--scale-sets: each factor must lie in [{1 / MAX_SCALE_SPREAD:g}, "
                     f"{MAX_SCALE_SPREAD:g}], not {args.scale_sets!r}")
    try:
        seeds = [int(s) for s in args.run_seeds.split(",")]
    except ValueError:
        parser.error(f"--run-seeds: not a list of integers: {args.run_seeds!r}")
    from figure5 import TASKS_20  # bench/, beside this script

    from amzc.search.config import load_config
    from amzc.tasks import build_tasks

    # the islands of lever tasks_20 (configs/figure5.toml until session 23), which these
    # task sets were measured for; the shipped linear island's scaled sets are among them
    cfg = load_config(ladder.CONFIG, overrides=TASKS_20)
    start = time.time()
    rows = []
    # the final tasks are the same for every run seed (None)
    sets = [(None, "final", cfg.final_tasks.spec)]
    sets += [(seed, name, spec) for seed in seeds
             for name, spec in task_sets(cfg, seed, spreads, scale_sets).items()]
    for seed, tasks_name, spec in sets:
        tasks = build_tasks(spec)
        for program, text in PROGRAMS.items():
            if "{rate}" in text:
                scores = {str(rate): ladder.score(text.format(rate=rate), program, cfg, tasks,
                                                  "llvm", 1)
                          for rate in rates}
            else:  # no step size: one score
                scores = {"-": ladder.score(text, program, cfg, tasks, "llvm", 1)}
            rows.append({"run_seed": seed, "tasks": tasks_name, "program": program,
                         "fitness": scores})
            print(f"seed {seed} {tasks_name:19s} {program:9s} "
                  + " ".join(f"{r}:{f:.3f}" for r, f in scores.items()), flush=True)
    result = {"benchmark": "figure5_linear", "config": str(ladder.CONFIG.relative_to(ladder.ROOT)),
              "rates": rates, "spreads": spreads,
              "scale_sets": scale_sets, "wall_s": time.time() - start, "rows": rows,
              "programs": PROGRAMS}
    ladder.write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
