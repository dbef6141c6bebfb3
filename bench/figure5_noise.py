"""How much of a Figure 5 search fitness is luck: a program's fitness over many evaluation
seeds on the search tasks a run drew, beside the rungs of bench/figure5_ladder.py on the same
tasks.

A search child is evaluated once, with a seed of its own that keys its random fills
(docs/evolution.md), and FEC hands that one sample to every later child with the same
fingerprint, for up to ``fec.forget_every`` uses. A program whose prediction reads a random
fill (rung 2 with random floors ``max(x, v)``, ``v`` a Gaussian draw of Setup) therefore
enters the population with a draw of its fitness, and the population keeps the lucky draws.
This script evaluates ``--program`` on the search tasks a run of seed ``--run-seed`` drew
(its first experiment's, with the config as bench/figure5.py's ``--lever`` overrides it)
under ``--evals`` evaluation seeds, and on the config's final tasks under ``--final-evals``;
``--logged`` is the search fitness the run logged for it, reported in standard deviations of
the spread. Rungs 1, 2 and 2b (no random fills: their scores are exact) are scored on the
same search tasks at the best of ``--rates``; a best rate at the end of the sweep is flagged,
since the rung may score more at a rate beyond it. Each ``--also`` program (the steps of a
path from ``--program``, say) is scored as ``--program`` is, on the same tasks and seeds.

Usage: python bench/figure5_noise.py --program FILE --run-seed S [--lever L] [--logged F]
       [--also FILE ...] [--evals 20] [--final-evals 5] [--rates 0.003,0.01,0.03]
       [--out FILE]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figure5_ladder as ladder  # noqa: E402
from revision import git_revision  # noqa: E402

RUNGS = ("1_linear", "2_relu_inputs", "2b_trained_floors")


def spread(values: list[float]) -> dict:
    # the sample standard deviation: a handful of seeds estimate the spread of all of them
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd,
            "min": min(values), "max": max(values), "values": values}


def main(argv: list[str] | None = None) -> int:
    from figure5 import LEVERS  # bench/, beside this script

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", type=Path, required=True, help="a .amz program")
    parser.add_argument("--run-seed", type=int, required=True,
                        help="the run seed whose search tasks to evaluate on")
    parser.add_argument("--lever", default="tasks_20", choices=sorted(LEVERS),
                        help="the bench/figure5.py lever the run used (its search tasks)")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another program to score the same way (repeatable)")
    parser.add_argument("--logged", type=float, default=None,
                        help="the search fitness the run logged for the program")
    parser.add_argument("--evals", type=int, default=20,
                        help="evaluation seeds on the search tasks")
    parser.add_argument("--final-evals", type=int, default=5,
                        help="evaluation seeds on the final tasks")
    parser.add_argument("--rates", default="0.003,0.01,0.03",
                        help="learning rates to sweep for the rungs (comma-separated)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result JSON (default: bench/results/figure5_noise_<program>.json)")
    args = parser.parse_args(argv)
    rates = ladder.parse_rates(parser, args.rates)
    if not all(math.isfinite(r) and r > 0 for r in rates):
        parser.error(f"--rates: learning rates must be positive numbers: {args.rates}")
    if args.logged is not None and not math.isfinite(args.logged):
        parser.error(f"--logged: not a finite number: {args.logged}")
    if args.evals < 1 or args.final_evals < 1:
        parser.error("--evals and --final-evals must be at least 1")
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out: a directory, not a file: {args.out}")
    texts = {}
    for flag, path in [("--program", args.program), *(("--also", p) for p in args.also)]:
        try:
            texts[path.name] = path.read_text(encoding="utf-8")
        except OSError as err:
            parser.error(f"{flag}: {err.strerror}: {path}")
        except UnicodeDecodeError:
            parser.error(f"{flag}: not UTF-8 text: {path}")
    if len(texts) < 1 + len(args.also):
        parser.error("--program and --also: two files of the same name")
    text = texts[args.program.name]

    from amzc.errors import AmzError
    from amzc.search.config import load_config
    from amzc.search.experiment import first_experiment_tasks
    from amzc.tasks import build_tasks

    start = time.time()
    try:
        cfg = load_config(ladder.CONFIG, seed=args.run_seed, overrides=LEVERS[args.lever][0])
        # the programs must lie in the search space: checked before any task is built
        for file_name, source in texts.items():
            ladder.in_space(source, file_name, cfg)
    except AmzError as err:
        parser.error(str(err))
    search = build_tasks(first_experiment_tasks(cfg)[0])
    final = build_tasks(cfg.final_tasks.spec)
    name = args.program.name

    def scores(source: str, file_name: str) -> tuple[dict, dict]:
        # evaluation seeds 1000, 1001, ...: any seeds serve; these are not the run's own
        return (spread([ladder.score(source, file_name, cfg, search, "llvm", 1000 + k)
                        for k in range(args.evals)]),
                spread([ladder.score(source, file_name, cfg, final, "llvm", 1000 + k)
                        for k in range(args.final_evals)]))

    on_search, on_final = scores(text, name)
    also = {}
    for path in args.also:
        s, f = scores(texts[path.name], path.name)
        also[path.name] = {"program": texts[path.name], "search": s, "final": f}
    rungs = {}
    for rung in RUNGS:
        source = (ladder.LADDER / f"{rung}.amz").read_text(encoding="utf-8")
        sweep, best = ladder.sweep(source, rung, cfg, search, rates)
        rungs[rung] = {"fitness": sweep[best], "learning_rate": float(best), "sweep": sweep,
                       "at_sweep_end": len(rates) > 1 and float(best) in (min(rates),
                                                                          max(rates))}
    result = {"benchmark": "figure5_noise", "revision": git_revision(), "program": text,
              "program_file": name,
              "lever": args.lever, "run_seed": args.run_seed,
              "search_tasks": search.num_tasks,
              "logged_search_fitness": args.logged, "search": on_search,
              "final": on_final, "also": also, "rungs_on_search_tasks": rungs,
              "wall_s": time.time() - start}
    s, f = result["search"], result["final"]
    print(f"{name}, run seed {args.run_seed}'s search tasks: mean {s['mean']:.4f}, "
          f"sd {s['sd']:.4f}, max {s['max']:.4f} over {args.evals} evaluation seeds"
          + (f" (logged {args.logged:.4f}: {(args.logged - s['mean']) / s['sd']:+.1f} sd)"
             if args.logged is not None and s["sd"] > 0 else ""))
    print(f"final tasks: mean {f['mean']:.4f}, sd {f['sd']:.4f} over {args.final_evals}")
    for file_name, row in also.items():
        print(f"{file_name}: search tasks {row['search']['mean']:.4f} "
              f"(sd {row['search']['sd']:.4f}), final tasks {row['final']['mean']:.4f}")
    for rung, row in rungs.items():
        print(f"rung {rung} on the search tasks: {row['fitness']:.4f} "
              f"(learning rate {row['learning_rate']}"
              + (", at the end of the sweep: try beyond it" if row["at_sweep_end"] else "")
              + ")")
    out = args.out or ladder.ROOT / "bench" / "results" / f"figure5_noise_{args.program.stem}.json"
    ladder.write(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
