"""Wall time to solution of the public demo (docs/evolution.md, "Performance").

Runs ``amzc evolve --config configs/demo.toml --seed S --quiet`` for each seed in a fresh
process pinned to one core, and records the wall time until it exits (search, selection and
final evaluation included), whether the final fitness exceeds 0.9999, the individuals
evaluated, individuals per second, the FEC hit rate and the CPU seconds it used (steadier than
wall time on a shared machine).

The public C++ reference, built and run on one core of this machine with the same settings,
took 22-151 s over 10 seeds (median 61 s).

Usage: python bench/demo_time.py [--seeds 1 2 3 4 5] [--config configs/demo.toml]
Writes bench/results/demo_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = {"seeds": 10, "min_s": 22, "max_s": 151, "median_s": 61}


def one_core() -> list[str]:
    """A command prefix that pins the process to one CPU, when taskset exists."""
    if sys.platform.startswith("linux") and subprocess.run(
            ["which", "taskset"], capture_output=True).returncode == 0:
        return ["taskset", "-c", str(sorted(os.sched_getaffinity(0))[-1])]
    return []


def run_seed(config: Path, seed: int, folder: Path, extra: list[str]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [*one_core(), sys.executable, "-c", "from amzc.cli import main; main()",
               "evolve", "--config", str(config), "--seed", str(seed), "--out", str(folder),
               "--quiet", "--force", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time: on a shared machine, steadier than wall time (another process's load
    # stretches the wall clock, not this one's CPU seconds)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        return {"seed": seed, "wall_s": round(wall, 2), "error": proc.stderr[-2000:]}
    result = json.loads((folder / "result.json").read_text())
    return {
        "seed": seed,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "final_fitness": result["final_fitness"],
        "solved": result["final_fitness"] > 0.9999,
        "select_fitness": result["select_fitness"],
        "experiments": result["experiments"],
        "individuals": result["individuals"],
        "individuals_per_s": round(result["individuals_per_s"]),
        "fec_hit_rate": result["fec_hit_rate"],
        "backend": result["backend"],
        "program": result["simplified_program"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.toml")
    parser.add_argument("--backend", default=None, help="override the config's backend")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo_time.json")
    args = parser.parse_args()
    extra = ["--backend", args.backend] if args.backend else []
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            run = run_seed(args.config, seed, Path(tmp) / f"seed{seed}", extra)
            runs.append(run)
            if "error" in run:
                print(f"seed {seed}: failed after {run['wall_s']} s\n{run['error']}", flush=True)
                continue
            print(f"seed {seed}: {run['wall_s']:7.1f} s (CPU {run['cpu_s']:.1f} s)  "
                  f"final {run['final_fitness']:.6f}  "
                  f"{run['experiments']} experiment(s)  {run['individuals']:>9,} individuals  "
                  f"{run['individuals_per_s']:>6,}/s  FEC hits {run['fec_hit_rate']:.1%}",
                  flush=True)
    failed = [r for r in runs if "error" in r]
    runs = [r for r in runs if "error" not in r]
    if not runs:
        raise SystemExit("every seed failed")
    times = [r["wall_s"] for r in runs]
    summary = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT)
                      else args.config),
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores_used": 1, "python": platform.python_version()},
        "median_wall_s": statistics.median(times),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "min_wall_s": min(times),
        "max_wall_s": max(times),
        "all_solved": all(r["solved"] for r in runs),
        "median_individuals_per_s": statistics.median(r["individuals_per_s"] for r in runs),
        "reference_cpp": REFERENCE,
        "runs": runs,
        "failed": failed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"median {summary['median_wall_s']:.1f} s (reference C++: median "
          f"{REFERENCE['median_s']} s); all solved: {summary['all_solved']}; wrote {args.out}")


if __name__ == "__main__":
    main()
