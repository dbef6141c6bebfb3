"""Speed of the search loop, one code version against another, measured in pairs.

On a shared machine wall time swings by a third within the hour, so two versions are compared
by running them at the same time, one per core, and swapping the cores every round: both see
the same neighbours. Each run is the demo's search (configs/demo.toml) for a fixed number of
individuals in one experiment, without early selection, restarts or checkpoints; the figure is
the process's CPU time for the search (start-up and JIT included). The ratio of a round is
base CPU / head CPU (above 1: head is faster); the median over the rounds is the result.
Both versions must take the same search path: the runs' best fitness and FEC hit rate are
compared, and a difference is an error (unless ``--other-path``: for a change that alters
the search on purpose, the FEC hit rates are recorded to show how alike the work was).

The base is a git revision, checked out into a temporary worktree; the head is this tree
(with its uncommitted changes).

Usage: python bench/paired.py BASE_REV [--rounds 8] [--individuals 150000] [--seed 1]
       [--other-path]
Writes bench/results/paired.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, tempfile, time
from dataclasses import replace
from pathlib import Path
from amzc.search.config import load_config
from amzc.search.experiment import Run

config, seed, individuals = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = load_config(config, seed=seed)
cfg = replace(cfg, early_select=False, max_experiments=1, checkpoint_every=0,
              stop=replace(cfg.stop, max_individuals=individuals, max_train_steps=0,
                           max_stagnation=0, max_time_s=0))
with tempfile.TemporaryDirectory() as tmp:
    run = Run.start(cfg, Path(tmp) / "run")
    cpu = time.process_time()
    result = run.run()
    cpu = time.process_time() - cpu
print(json.dumps({"cpu_s": cpu, "individuals": result["individuals"],
                  "search_fitness": result["search_fitness"],
                  "fec_hit_rate": result["fec_hit_rate"]}))
"""


def start(tree: Path, core: int, args: argparse.Namespace) -> subprocess.Popen:
    # PYTHONPATH first: an editable install would otherwise import this tree for both sides
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-c", CHILD, str(ROOT / args.config), str(args.seed),
               str(args.individuals)]
    if sys.platform.startswith("linux"):
        command = ["taskset", "-c", str(core), *command]
    return subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, name: str) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision to compare this tree against")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--individuals", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "paired.json")
    parser.add_argument("--other-path", action="store_true",
                        help="the versions search differently on purpose (e.g. a new random "
                             "stream): compare CPU time for the same number of individuals "
                             "without requiring the same best fitness and FEC hit rate")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    if len(cores) < 2:
        raise SystemExit("paired runs need two cores")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base],
                       cwd=ROOT, check=True)
        try:
            rounds = []
            for r in range(args.rounds):
                a, b = (cores[0], cores[1]) if r % 2 == 0 else (cores[1], cores[0])
                procs = start(base, a, args), start(ROOT, b, args)
                base_run, head_run = finish(procs[0], "base"), finish(procs[1], "head")
                # a change that alters the search on purpose (--other-path) still runs the
                # same number of individuals; then the FEC hit rates show how comparable the
                # two searches' work was
                checked = ("individuals",) if args.other_path else (
                    "individuals", "search_fitness", "fec_hit_rate")
                for key in checked:
                    if base_run[key] != head_run[key]:
                        raise SystemExit(f"the versions took different paths: {key} "
                                         f"{base_run[key]} vs {head_run[key]}")
                ratio = base_run["cpu_s"] / head_run["cpu_s"]
                rounds.append({"base_cpu_s": round(base_run["cpu_s"], 3),
                               "head_cpu_s": round(head_run["cpu_s"], 3),
                               "ratio": round(ratio, 4),
                               "base_fec_hit_rate": base_run["fec_hit_rate"],
                               "head_fec_hit_rate": head_run["fec_hit_rate"]})
                print(f"round {r + 1}: base {base_run['cpu_s']:6.2f} s  head "
                      f"{head_run['cpu_s']:6.2f} s  ratio {ratio:.3f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT,
                           check=False)
    ratios = [r["ratio"] for r in rounds]
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    summary = {"base": args.base, "head": head, "config": args.config, "seed": args.seed,
               "same_path_required": not args.other_path,
               "individuals": args.individuals, "median_ratio": statistics.median(ratios),
               "min_ratio": min(ratios), "max_ratio": max(ratios), "rounds": rounds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"median ratio {summary['median_ratio']:.3f} (base CPU / head CPU, "
          f"{len(ratios)} rounds, {min(ratios):.3f}–{max(ratios):.3f}); wrote {args.out}")


if __name__ == "__main__":
    main()
