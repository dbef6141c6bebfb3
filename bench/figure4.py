"""The paper's Figure 4: regularized evolution against random search on search spaces of rising
difficulty, with equal individual budgets.

The levels climb from fitting a fixed function to discovering a learning algorithm:

- F1, F2, F4, F5: the label is a fixed function of the features (mean(x), mean(x)²,
  (mean(x) + |x|)·mean(x) and (mean(x)·|x| + mean(x))·mean(x)); a Predict of 1, 2, 4 or 5
  instructions over six scalar ops computes it exactly, nothing needs to learn. Data: one file
  of 4-feature Gaussian inputs written by this script, resampled into tasks of 100 / 100
  examples.
- L1, L2, L5: linear regression by SGD (the paper's §4.1 setting: F = 4, memory 4/3/1, 3
  search tasks of 100 / 100 examples), with the four ops a learner needs at sizes 1/1/4 and
  2/1/6, and the demo's space (six ops everywhere, sizes 10/2/8).

Population 1000, tournament 10, fixed sizes, random initial programs, FEC on (as in every amzc
search; both methods alike). Each (level, method) pair runs ``--experiments`` independent
experiments of at most ``--budget`` individuals; an experiment succeeds when its candidate
scores above 0.999 on held-out tasks (20 tasks), and it stops there. Random search draws every
individual fresh from the initial-program distribution; evolution mutates tournament winners.

Difficulty is the paper's: random programs per success, measured here by random search itself
(its successes over all the individuals it evaluated, a Poisson rate; when it found none, a
lower bound from the rule of three). The result is the ratio of success rates at equal budget,
evolution / random search, with a 95 % confidence interval (Katz's log method, 0.5 added to
zero counts). The paper reports that this ratio grows with difficulty.

Usage: python bench/figure4.py [--experiments 30] [--budget 200000] [--workers 2]
       [--levels F1,F2,F4,F5,L2] [--out bench/results/figure4.json] [--quick]
Writes the JSON and a PNG beside it (figure4.png).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from revision import git_revision  # bench/, beside this script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "figure4.json"
SUCCESS = 0.999  # held-out fitness of a working SGD regressor on these tasks: > 0.9999
Z95 = 1.959964

MINIMAL = {"setup": ["scalar_const_set"], "predict": ["vector_inner_product"],
           "learn": ["scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]}
DEMO_OPS = ["scalar_const_set", "vector_inner_product", "scalar_diff", "scalar_product",
            "scalar_vector_product", "vector_sum"]
DEMO = {component: DEMO_OPS for component in ("setup", "predict", "learn")}


FUNCTION_OPS = {"setup": [], "predict": ["vector_mean", "vector_norm", "vector_inner_product",
                                          "scalar_sum", "scalar_product", "scalar_diff"],
                "learn": []}


@dataclass(frozen=True)
class Level:
    name: str
    label: str
    ops: dict[str, list[str]]
    sizes: tuple[int, int, int]  # setup, predict, learn (fixed)
    target: str | None = None  # a fixed function of the features (a key of TARGETS), or
    #                            None: linear regression tasks, to be learned


def _mean(x):
    return x.mean(axis=1)


TARGETS = {
    "mean": _mean,
    "mean_squared": lambda x: _mean(x) ** 2,
    "mean_plus_norm_times_mean": lambda x: (_mean(x) + (x * x).sum(axis=1) ** 0.5) * _mean(x),
    "mean_times_norm_plus_mean_times_mean": (
        lambda x: (_mean(x) * (x * x).sum(axis=1) ** 0.5 + _mean(x)) * _mean(x)),
}

LEVELS = (
    Level("F1", "fit mean(x): Predict of 1", FUNCTION_OPS, (0, 1, 0), "mean"),
    Level("F2", "fit mean(x)²: Predict of 2", FUNCTION_OPS, (0, 2, 0), "mean_squared"),
    Level("F4", "fit (mean(x) + |x|)·mean(x): Predict of 4", FUNCTION_OPS, (0, 4, 0),
          "mean_plus_norm_times_mean"),
    Level("F5", "fit (mean(x)·|x| + mean(x))·mean(x): Predict of 5", FUNCTION_OPS, (0, 5, 0),
          "mean_times_norm_plus_mean_times_mean"),
    Level("L1", "learn linear regression: 4 learn ops, sizes 1/1/4", MINIMAL, (1, 1, 4)),
    Level("L2", "learn linear regression: 4 learn ops, sizes 2/1/6", MINIMAL, (2, 1, 6)),
    Level("L5", "learn linear regression: the demo's space, 6 ops, sizes 10/2/8", DEMO,
          (10, 2, 8)),
)
DEFAULT_LEVELS = "F1,F2,F4,F5,L2"  # about 25 minutes on two quiet cores
FEATURES = 4
DATA_ROWS = 4000

CONFIG = """
[run]
name = "figure4-{level}-{method}"
strategy = "{method}"
max_experiments = 1
sufficient_fitness = {success}
early_select = true
early_select_min_fitness = 0.99
progress_every = 100000
checkpoint_every = 0

[memory]
scalars = 4
vectors = {vectors}
matrices = {matrices}

[tasks.search]
{task}
num_train = 100
num_valid = 100
num_tasks = 3
randomize = true

[tasks.select]
num_train = {final_train}
num_valid = 100
num_tasks = 20
randomize = true

[tasks.final]
num_train = {final_train}
num_valid = 100
num_tasks = 20
param_seeds = [2000000]
data_seeds = [1000000]

[ops]
setup = {setup_ops}
predict = {predict_ops}
learn = {learn_ops}

[sizes]
setup = {{ init = {s}, min = {s}, max = {s} }}
predict = {{ init = {p}, min = {p}, max = {p} }}
learn = {{ init = {l}, min = {l}, max = {l} }}

[population]
size = 1000
tournament = 10
init = "random"

[mutation]
types = ["alter_param", "randomize_instruction", "randomize_component_function"]
mutate_prob = 0.9

[fec]
enabled = true

[stop]
max_individuals = {budget}
"""


def data_file(level: Level, folder: Path) -> Path:
    """The level's data: Gaussian features, the target function's labels (a fixed seed)."""
    import numpy as np

    path = folder / f"figure4_{level.target}.npz"
    if not path.exists():
        x = np.random.default_rng(4).standard_normal((DATA_ROWS, FEATURES))
        np.savez(path, x=x, y=TARGETS[level.target](x))
    return path


def config_text(level: Level, method: str, budget: int, folder: Path) -> str:
    setup, predict, learn = level.sizes
    if level.target is None:
        task, vectors, matrices, final_train = (f'kind = "linear"\nfeatures = {FEATURES}', 3,
                                                1, 1000)
    else:
        path = json.dumps(str(data_file(level, folder)))
        task, vectors, matrices, final_train = f'kind = "data"\npath = {path}', 1, 0, 100
    return CONFIG.format(level=level.name, task=task, vectors=vectors, matrices=matrices,
                         final_train=final_train, method=method, success=SUCCESS, budget=budget,
                         setup_ops=json.dumps(level.ops["setup"]),
                         predict_ops=json.dumps(level.ops["predict"]),
                         learn_ops=json.dumps(level.ops["learn"]), s=setup, p=predict,
                         l=learn)


def run_one(job: tuple[str, str, int, int]) -> dict:
    """One experiment in this process: (level, method, seed, budget) → its outcome."""
    from amzc.search.config import parse_config
    from amzc.search.experiment import Run

    name, method, seed, budget = job
    level = next(lv for lv in LEVELS if lv.name == name)
    start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config(config_text(level, method, budget, Path(tmp)),
                           f"figure4-{name}.toml", base_dir=ROOT, seed=seed)
        result = Run.start(cfg, Path(tmp) / "run").run()
    return {"level": name, "method": method, "seed": seed, "success": bool(result["solved"]),
            "individuals": int(result["individuals"]),
            "final_fitness": float(result["final_fitness"]),
            "cpu_s": time.process_time() - start}


def katz_ratio(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float, float]:
    """Ratio of two binomial proportions s1/n1 ÷ s2/n2 with Katz's 95 % log interval; 0.5 is
    added to a zero count (and to the other arm's, so the ratio is not biased toward one)."""
    if s1 == 0 or s2 == 0:
        s1, s2, n1, n2 = s1 + 0.5, s2 + 0.5, n1 + 0.5, n2 + 0.5
    ratio = (s1 / n1) / (s2 / n2)
    se = math.sqrt(max(1 / s1 - 1 / n1 + 1 / s2 - 1 / n2, 0.0))
    return ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)


def wilson(s: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p, z2 = s / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def poisson_upper(s: int) -> float:
    """One-sided 95 % upper bound of a Poisson mean given s events (s = 0: 3.0, the rule of
    three); for s > 0 the Wilson–Hilferty approximation of the chi-square quantile."""
    if s == 0:
        return -math.log(0.05)
    k = 2 * (s + 1)
    return 0.5 * k * (1 - 2 / (9 * k) + 1.644854 * math.sqrt(2 / (9 * k))) ** 3


def summarize(runs: list[dict], levels: list[Level], experiments: int, budget: int) -> list[dict]:
    rows = []
    for level in levels:
        by = {m: [r for r in runs if r["level"] == level.name and r["method"] == m]
              for m in ("evolution", "random")}
        evo, rs = by["evolution"], by["random"]
        s_e, s_r = sum(r["success"] for r in evo), sum(r["success"] for r in rs)
        rs_individuals = sum(r["individuals"] for r in rs)
        # difficulty: random programs per success; with no success, a lower bound
        difficulty = rs_individuals / s_r if s_r else rs_individuals / poisson_upper(0)
        ratio, low, high = katz_ratio(s_e, len(evo), s_r, len(rs))
        rows.append({
            "level": level.name, "label": level.label, "sizes": list(level.sizes),
            "ops": level.ops, "experiments": experiments, "budget": budget,
            "evolution_successes": s_e, "random_successes": s_r,
            "evolution_rate": s_e / len(evo) if evo else None,
            "random_rate": s_r / len(rs) if rs else None,
            "evolution_rate_ci": wilson(s_e, len(evo)), "random_rate_ci": wilson(s_r, len(rs)),
            "difficulty": difficulty, "difficulty_is_lower_bound": s_r == 0,
            "random_individuals": rs_individuals,
            "ratio": ratio, "ratio_ci": [low, high], "ratio_is_lower_bound": s_r == 0,
            "cpu_s": sum(r["cpu_s"] for r in evo + rs),
        })
    return rows


def plot(rows: list[dict], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    x = range(len(rows))
    for offset, method, color in ((-0.12, "evolution", "tab:blue"), (0.12, "random", "tab:orange")):
        rates = [r[f"{method}_rate"] for r in rows]
        lows = [r[f"{method}_rate"] - r[f"{method}_rate_ci"][0] for r in rows]
        highs = [r[f"{method}_rate_ci"][1] - r[f"{method}_rate"] for r in rows]
        left.errorbar([i + offset for i in x], rates, yerr=[lows, highs], fmt="o", color=color,
                      capsize=3, label="evolution" if method == "evolution" else "random search")
    left.set_xticks(list(x), [r["level"] for r in rows])
    left.set_ylabel("success rate at equal budget")
    left.set_ylim(-0.05, 1.05)
    left.set_title(f"{rows[0]['experiments']} experiments of ≤ {rows[0]['budget']:,} "
                   "individuals each")
    left.legend(loc="lower left")
    below, last = False, None
    for r in sorted(rows, key=lambda r: r["difficulty"]):
        low, high = r["ratio_ci"]
        marker = "^" if r["ratio_is_lower_bound"] else "o"
        right.errorbar([r["difficulty"]], [r["ratio"]],
                       yerr=[[r["ratio"] - low], [high - r["ratio"]]], fmt=marker,
                       color="tab:blue", capsize=3)
        # a level within a factor 3 of the previous one in difficulty: label on the other side
        below = last is not None and r["difficulty"] < 3 * last and not below
        last = r["difficulty"]
        right.annotate(r["level"], (r["difficulty"], r["ratio"]), textcoords="offset points",
                       xytext=(6, -12 if below else 4))
    right.axhline(1.0, color="grey", lw=0.8, ls="--")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("difficulty: random programs per success (▲: random search found none)")
    right.set_ylabel("success rate, evolution / random search")
    right.set_title("Figure 4: the ratio against difficulty (95 % CI)")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30,
                        help="experiments per level and method (default 30)")
    parser.add_argument("--budget", type=int, default=200_000,
                        help="individuals per experiment, at most (default 200,000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes (default: every core)")
    parser.add_argument("--levels", default=DEFAULT_LEVELS,
                        help="comma-separated level names, of "
                        f"{', '.join(lv.name for lv in LEVELS)} (default: {DEFAULT_LEVELS})")
    parser.add_argument("--seed", type=int, default=1, help="first experiment seed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true",
                        help="2 experiments of 2,000 individuals on F1 and L1 (a smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.experiments, args.budget, args.levels = 2, 2000, "F1,L1"
    names = [n.strip() for n in args.levels.split(",") if n.strip()]
    unknown = [n for n in names if n not in {lv.name for lv in LEVELS}]
    if unknown or not names:
        parser.error(f"unknown level(s) {unknown}; choose from "
                     f"{', '.join(lv.name for lv in LEVELS)}")
    if args.experiments < 1 or args.budget < 1 or args.workers < 1:
        parser.error("--experiments, --budget and --workers must be at least 1")
    levels = [lv for lv in LEVELS if lv.name in names]
    # hardest first: the long experiments start early and the pool ends evenly
    jobs = [(lv.name, method, args.seed + i, args.budget) for lv in reversed(levels)
            for i in range(args.experiments) for method in ("evolution", "random")]
    start = time.time()
    revision = git_revision()  # at the start: the code the runs measure
    runs = []
    with contextlib.ExitStack() as stack:
        if args.workers == 1:  # in this process: no start-up, and importable by path
            outcomes = map(run_one, jobs)
        else:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(args.workers))
            outcomes = pool.imap_unordered(run_one, jobs)
        for done, run in enumerate(outcomes, 1):
            runs.append(run)
            print(f"\r{done}/{len(jobs)} experiments, {time.time() - start:.0f} s", end="",
                  file=sys.stderr, flush=True)
    print(file=sys.stderr)
    rows = summarize(runs, levels, args.experiments, args.budget)
    result = {"benchmark": "figure4", "revision": revision, "success_threshold": SUCCESS,
              "experiments": args.experiments, "budget": args.budget, "workers": args.workers,
              "wall_s": time.time() - start, "levels": rows,
              "runs": sorted(runs, key=lambda r: (r["level"], r["method"], r["seed"]))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    png = args.out.with_suffix(".png")
    plot(rows, png)
    print(f"{'level':5} {'difficulty':>12} {'evolution':>9} {'random':>7} "
          f"{'ratio (95% CI)':>24}")
    for r in rows:
        bound = ">" if r["difficulty_is_lower_bound"] else " "
        ratio_bound = "≥" if r["ratio_is_lower_bound"] else " "
        print(f"{r['level']:5} {bound}{r['difficulty']:11.3g} "
              f"{r['evolution_successes']:4}/{r['experiments']:<4} "
              f"{r['random_successes']:3}/{r['experiments']:<3} "
              f"{ratio_bound}{r['ratio']:6.2f} ({r['ratio_ci'][0]:.2f}–{r['ratio_ci'][1]:.2f})")
    print(f"wrote {args.out} and {png} ({result['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
