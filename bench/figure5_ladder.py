"""The rungs between the empty program and backpropagation in the Figure 5 search space, scored
on that experiment's final tasks: what a search from random programs has to climb.

Each program in bench/figure5_ladder/ is checked against configs/figure5.toml's search space
(memory 4/8/2, F = 8, the figure's op lists per component, at most 21/3/9 instructions), so
every rung is a program evolution could reach, and scored on the config's 100 final teacher
tasks (1000 train / 100 valid, fixed seeds). A line marked ``# learning rate`` is swept over
``--rates``; the best rate is reported with the whole sweep. The figures fix the targets of
issue-level milestones: M1 (0.30) lies above every linear model and above a network whose
hidden layer is never trained; M2 (0.45) needs the hidden layer trained through the ReLU.

``--num-train N`` scores the same 100 tasks with N training examples each instead of 1000
(no longer the final tasks: how far apart the rungs lie with longer training, as search tasks
of the paper's 10,000-example worker group would show them).

Usage: python bench/figure5_ladder.py [--rates 0.001,0.003,0.01,0.03,0.1] [--seed 1]
       [--backend llvm] [--num-train N] [--out FILE]
The 10,000-example table of docs/paper.md:
       python bench/figure5_ladder.py --rates 0.0003,0.001,0.003,0.01,0.03,0.1 --num-train 10000
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LADDER = ROOT / "bench" / "figure5_ladder"
CONFIG = ROOT / "configs" / "figure5.toml"
RESULTS = ROOT / "bench" / "results" / "figure5_ladder.json"
RATE_LINE = re.compile(r"^(?P<head>\s*s\d+ = )(?P<value>\S+)(?P<tail>\s*# learning rate.*)$",
                       re.MULTILINE)


def with_rate(text: str, rate: float) -> str:
    """The program with its ``# learning rate`` line set to ``rate``."""
    return RATE_LINE.sub(lambda m: f"{m['head']}{rate}{m['tail']}", text)


def sweep(text: str, name: str, cfg, tasks, rates: list[float], backend: str = "llvm",
          seed: int = 1) -> tuple[dict[str, float], str]:
    """The program scored at each of ``rates`` (its ``# learning rate`` line set to each),
    by rate as text, and the best rate (the first of equals)."""
    scores = {str(rate): score(with_rate(text, rate), name, cfg, tasks, backend, seed)
              for rate in rates}
    return scores, max(scores, key=scores.get)


def score(text: str, name: str, cfg, tasks, backend: str, seed: int) -> float:
    from amzc import EvalOptions, evaluate

    program = in_space(text, name, cfg)
    options = EvalOptions(max_abs_error=cfg.max_abs_error, seed=seed)
    return evaluate(program, tasks, cfg.search_space.memory, backend=backend,
                    options=options).fitness


def in_space(text: str, name: str, cfg):
    """The program, parsed and checked against ``cfg``'s search space (memory, op lists per
    component, sizes); an AmzError if it does not parse or check, SystemExit if too long."""
    from amzc import parse
    from amzc.check import check

    program = parse(text, name)
    space = cfg.search_space
    allowed = {c: space.components[c].ops for c in space.components}
    check(program, space.memory, space.features, allowed, name)
    for component, config in space.components.items():
        size = len(getattr(program, component))
        if config.max_size is not None and size > config.max_size:
            raise SystemExit(f"{name}: {component} has {size} instructions, more than the "
                             f"search space's {config.max_size}")
    return program


def parse_rates(parser: argparse.ArgumentParser, text: str) -> list[float]:
    try:
        return [float(r) for r in text.split(",")]
    except ValueError:
        parser.error(f"--rates: not a list of numbers: {text!r}")


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.001,0.003,0.01,0.03,0.1",
                        help="learning rates to sweep (comma-separated)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random fills")
    parser.add_argument("--backend", default="llvm", choices=("llvm", "numpy"))
    parser.add_argument("--num-train", type=int, default=None,
                        help="training examples per task (default: the final tasks' 1000)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the JSON (default: bench/results/figure5_ladder.json, or "
                             "figure5_ladder_<N>.json with --num-train N)")
    args = parser.parse_args(argv)
    rates = parse_rates(parser, args.rates)
    if args.num_train is not None and args.num_train < 1:
        parser.error("--num-train: at least 1")
    if args.out is None:  # never the final tasks' ladder, which bench/figure5.py's plot reads
        args.out = (RESULTS if args.num_train is None
                    else RESULTS.with_name(f"figure5_ladder_{args.num_train}.json"))

    from amzc.search.config import load_config
    from amzc.tasks import build_tasks

    cfg = load_config(CONFIG)
    spec = cfg.final_tasks.spec
    if args.num_train is not None:
        spec = replace(spec, num_train=args.num_train)
    tasks = build_tasks(spec)
    start = time.time()
    rows = []
    for path in sorted(LADDER.glob("*.amz")):
        text = path.read_text(encoding="utf-8")
        description = " ".join(line.lstrip("# ").strip() for line in text.splitlines()
                               if line.startswith("#"))
        rate_sweep: dict[str, float] = {}
        if RATE_LINE.search(text):
            rate_sweep, best_rate = sweep(text, path.name, cfg, tasks, rates, args.backend,
                                          args.seed)
            fitness = rate_sweep[best_rate]
        else:
            best_rate, fitness = None, score(text, path.name, cfg, tasks, args.backend,
                                             args.seed)
        rows.append({"program": path.name, "description": description, "fitness": fitness,
                     "learning_rate": None if best_rate is None else float(best_rate),
                     "sweep": rate_sweep})
        rate = "" if best_rate is None else f"  (learning rate {best_rate})"
        print(f"{fitness:.3f}  {path.name}{rate}")
    result = {"benchmark": "figure5_ladder", "config": str(CONFIG.relative_to(ROOT)),
              "final_tasks": {"tasks": int(tasks.train_x.shape[0]),
                              "features": int(tasks.train_x.shape[2]),
                              "train": int(tasks.train_x.shape[1]),
                              "valid": int(tasks.valid_x.shape[1]),
                              "num_train_override": args.num_train},
              "backend": args.backend, "seed": args.seed, "rates": rates,
              "wall_s": time.time() - start, "rungs": rows}
    write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
