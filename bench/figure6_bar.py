"""The bar the Figure 6 moonshot must clear: logistic regression (examples/logistic_regression.amz)
at a range of learning rates, on the Figure 6 setting's T_select and final tasks.

An evolved classifier "beats logistic regression" only if it beats it at its best learning
rate, not at a careless one. This scores the hand-written program with its learning rate
(Setup's ``s2``) replaced by each of ``--rates`` on 100 tasks of the ordinary pairs (drawn as
the search's own are: what its fitness sees), the config's 100 T_select tasks and 100
final tasks (held-out pairs, F = 16), and at F = 64 on the final tasks (the transfer test's
features, as bench/figure6.py builds them), with the evaluation seed the figures use (1),
and prints which rate each set prefers. Then it scores hand-written variants of the same
learner in the config's search space (``VARIANTS``: without the bias, with momentum at a grid
of momenta and rates, predicting from the sum of the weights so far, a hinge feature
max(x, 0) beside x, a learning rate that decays each example, bilinear interactions x'Mx
in two forms)
on the same sets, each with its difference from logistic regression at the shipped rate,
task by task, on the final tasks (mean ± 2 SEM): whether a linear learner's tweaks, or a
nonlinear term, clear the bar, and so whether the search space holds a program that beats
it. Seconds on one core.

Usage: python bench/figure6_bar.py [--rates 0.03,0.1,0.3,1] [--config configs/figure6.toml]
       [--seed 1] [--out bench/results/figure6_bar.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

# bench/, beside this script; the transfer test's features and evaluation seed, which the
# docs' figures use
from figure5_ladder import in_space
from figure5_ladder import with_rate as rate_line  # a program's ``# learning rate`` line
from figure6 import CONFIG, LOGISTIC, ROOT, TRANSFER_FEATURES, TRANSFER_SEED, shown
from revision import git_revision

RESULTS = ROOT / "bench" / "results" / "figure6_bar.json"
RATES = (0.03, 0.05, 0.07, 0.1, 0.13, 0.17, 0.2, 0.3, 1.0, 3.0, 10.0)

# logistic regression without its bias (s3): the momentum variants need the scalar
NO_BIAS = """def Setup():
  s2 = {rate}
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
"""
# heavy-ball momentum: v3 = β·v3 + step, w += v3 (β in s3)
MOMENTUM = """def Setup():
  s2 = {rate}
  s3 = {beta}
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  v2 = s4 * v0
  v3 = s3 * v3
  v3 = v3 + v2
  v1 = v1 + v3
"""
# predicting from the running sum of the weights (an unnormalized average: the sigmoid then
# sharpens as the sum grows), trained by the error of that prediction
WEIGHT_SUM = """def Setup():
  s2 = {rate}
def Predict():
  s1 = dot(v0, v3)
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
  v3 = v3 + v1
"""
# a nonlinear feature: logistic regression on x and on max(x, 0) (v4 stays 0), each part
# with its own rate (the hinge part's in s3)
HINGE = """def Setup():
  s2 = {rate}
  s3 = {hinge_rate}
def Predict():
  v3 = maximum(v0, v4)
  s1 = dot(v0, v1)
  s4 = dot(v3, v5)
  s1 = s1 + s4
def Learn():
  s4 = s0 - s1
  s0 = s3 * s4
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
  v6 = s0 * v3
  v5 = v5 + v6
"""
# another use of the single epoch: a learning rate that decays by a factor each example
DECAY = """def Setup():
  s2 = {rate}
  s3 = {decay}
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  s2 = s2 * s3
  v2 = s4 * v0
  v1 = v1 + v2
"""
# bilinear interactions (a quadratic classifier, x'Mx beside w.x): examples/
# bilinear_classifier.amz, scored here at other rates (its ``# learning rate`` line)
BILINEAR = (ROOT / "examples" / "bilinear_classifier.amz").read_text(encoding="utf-8")
# the shortest bilinear form: M's step the weights' step times x, at the weights' rate (two
# Learn instructions where examples/bilinear_classifier.amz has three); at logistic
# regression's rate its x'Mx term grows too fast, so it is scored at smaller rates
BILINEAR_SHORT = """def Setup():
  s2 = {rate}
def Predict():
  s1 = dot(v0, v1)
  v3 = dot(m0, v0)
  s4 = dot(v0, v3)
  s1 = s1 + s4
def Learn():
  s4 = s0 - s1
  s4 = s2 * s4
  v2 = s4 * v0
  v1 = v1 + v2
  m1 = outer(v2, v0)
  m0 = m0 + m1
"""
VARIANTS: dict[str, str] = {
    "no_bias": NO_BIAS.format(rate=0.1),
    **{f"momentum_{beta:g}_rate_{rate:g}": MOMENTUM.format(rate=rate, beta=beta)
       for beta in (0.3, 0.5, 0.7, 0.9) for rate in (0.02, 0.05, 0.1)},
    **{f"weight_sum_rate_{rate:g}": WEIGHT_SUM.format(rate=rate) for rate in (0.01, 0.1)},
    **{f"hinge_rate_0.1_{hinge:g}": HINGE.format(rate=0.1, hinge_rate=hinge)
       for hinge in (0.01, 0.03, 0.1)},
    **{f"decay_rate_{rate:g}_{decay:g}": DECAY.format(rate=rate, decay=decay)
       for rate in (0.2, 0.3, 0.5, 1.0) for decay in (0.99, 0.995)},
    **{f"bilinear_rate_{rate:g}": rate_line(BILINEAR, rate)
       for rate in (0.05, 0.07, 0.1, 0.13, 0.2)},
    **{f"bilinear_short_rate_{rate:g}": BILINEAR_SHORT.format(rate=rate)
       for rate in (0.005, 0.01, 0.02, 0.05, 0.1)},
}


def rate_instruction(program: Any) -> Any:
    """Setup's constant into s2: the learning rate."""
    found = [i for i in program.setup if i.op.name == "scalar_const_set" and i.out == 2]
    if len(found) != 1:
        raise SystemExit(f"{LOGISTIC}: expected one constant set into s2 in Setup")
    return found[0]


def with_rate(program: Any, rate: float) -> Any:
    """``program`` with its learning rate set to ``rate``."""
    old = rate_instruction(program)
    return replace(program, setup=tuple(replace(i, data=(rate,)) if i is old else i
                                        for i in program.setup))


def sweep(config: Path, seed: int, rates: list[float]) -> dict[str, Any]:
    from amzc.parse import parse_file
    from amzc.search.config import load_config
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.tasks import build_tasks

    cfg = load_config(config, seed)
    backend = load_backend(cfg.backend)
    memory = cfg.search_space.memory
    # 100 tasks on the ordinary pairs, as the search's own are drawn (the config's first
    # draw): what the search's fitness can see of a program's gain
    sets = {"ordinary": build_tasks(replace(cfg.search_tasks.spec, num_tasks=100)),
            "select": build_tasks(cfg.select_tasks.spec),
            "final": build_tasks(cfg.final_tasks.spec),
            "final_f64": build_tasks(replace(cfg.final_tasks.spec,
                                             features=TRANSFER_FEATURES))}
    def score(program: Any) -> dict[str, tuple[float, np.ndarray]]:
        return {name: evaluate_on(program, tasks, memory, backend, TRANSFER_SEED,
                                  cfg.max_abs_error)
                for name, tasks in sets.items()}

    program = parse_file(LOGISTIC)
    rows = []
    for rate in rates:
        rows.append({"rate": rate, **{name: fitness for name, (fitness, _)
                                      in score(with_rate(program, rate)).items()}})
    best = {name: max(rows, key=lambda r: r[name])["rate"] for name in sets}
    _, bar = evaluate_on(program, sets["final"], memory, backend, TRANSFER_SEED,
                         cfg.max_abs_error)
    variants = []
    for name, text in VARIANTS.items():
        scored = score(in_space(text, name, cfg))  # memory, op lists, sizes
        diff = np.asarray(scored["final"][1]) - np.asarray(bar)
        variants.append({"name": name, "program": text,
                         **{k: fitness for k, (fitness, _) in scored.items()},
                         "final_diff": float(diff.mean()),
                         "final_diff_2sem": float(2 * diff.std(ddof=1) / np.sqrt(len(diff)))})
    return {"config": shown(config), "seed": seed, "eval_seed": TRANSFER_SEED,
            "revision": git_revision(), "shipped_rate": rate_instruction(program).data[0],
            "rows": rows, "best_rate": best, "variants": variants}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES),
                        help="comma-separated learning rates")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--seed", type=int, default=1, help="the run seed (T_select's draw)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates: expected numbers, got {args.rates!r}")
    if not rates:
        parser.error("--rates: give at least one")
    result = sweep(args.config.resolve(), args.seed, rates)
    print(f"{'rate':>8} {'ordinary':>9} {'T_select':>9} {'final':>9} {'final F=64':>11}")
    for row in result["rows"]:
        mark = " (shipped)" if row["rate"] == result["shipped_rate"] else ""
        print(f"{row['rate']:>8g} {row['ordinary']:>9.4f} {row['select']:>9.4f} "
              f"{row['final']:>9.4f} {row['final_f64']:>11.4f}{mark}")
    print("best rate: " + ", ".join(f"{k} {v:g}" for k, v in result["best_rate"].items()))
    print(f"\n{'variant':>26} {'ordinary':>9} {'T_select':>9} {'final':>9} {'final F=64':>11} "
          f"{'final - LR (2 SEM)':>19}")
    for row in result["variants"]:
        print(f"{row['name']:>26} {row['ordinary']:>9.4f} {row['select']:>9.4f} "
              f"{row['final']:>9.4f} {row['final_f64']:>11.4f} {row['final_diff']:>+10.4f} ± "
              f"{row['final_diff_2sem']:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
