"""Resident memory over a long stream of compiled-and-evaluated random programs (docs/llvm.md,
"Memory"): each program of the demo's search space is compiled to its own module (the
compiled tier, not the interpreter), evaluated on the demo task set, and dropped; the kernel
cache evicts old kernels, whose engines and LLVM contexts are then freed.

Compiling happens in a recycled child process (jit.py explains why); the run samples the RSS
of this process and of the compile worker every ``--every`` programs, stops after
``--programs`` programs or ``--seconds``, and reports whether RSS stayed within ±10 % after
warm-up, with linear fits of RSS against programs extrapolated to 10⁶ programs.

Usage: python bench/jit_memory.py [--programs 1000000] [--seconds 3600] [--mode compile|auto]
       [--json] [--out FILE]
Writes bench/results/jit_memory.json (compile mode; the committed auto-mode run is
bench/results/jit_memory_auto.json).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import MEMORY, SPEC, random_programs  # noqa: E402

from amzc import caches  # noqa: E402
from amzc.backends.llvm import LlvmBackend  # noqa: E402
from amzc.backends.llvm.jit import default_jit  # noqa: E402
from amzc.evaluate import EvalOptions  # noqa: E402
from amzc.tasks import build_tasks  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "jit_memory.json"
TARGET = 1_000_000


def rss_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except OSError:  # the worker was just recycled
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_rss_mb() -> float:
    worker = default_jit()._worker
    process = worker.process if worker is not None else None
    return rss_mb(process.pid) if process is not None else 0.0


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return slope, my - slope * mx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=TARGET)
    parser.add_argument("--seconds", type=float, default=float("inf"))
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=2000,
                        help="programs before the reference RSS is taken")
    parser.add_argument("--mode", choices=("compile", "auto"), default="compile",
                        help="compile: every program compiled to its own module (the JIT's "
                        "worst case); auto: the backend's cost model picks the tier, as in a "
                        "search")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    tasks = build_tasks(SPEC)
    options = EvalOptions()
    backend = LlvmBackend(mode=args.mode, shared=False)
    samples: list[tuple[int, float, float, float]] = []  # programs, RSS, worker RSS, s
    start = time.perf_counter()
    done, seed, fitness_sum = 0, 0, 0.0
    while done < args.programs and time.perf_counter() - start < args.seconds:
        for program in random_programs(min(args.every, args.programs - done), seed=seed):
            fitness_sum += float(backend.run(program, tasks, MEMORY, options).fitness.mean())
        seed += 1
        done += args.every
        gc.collect()
        samples.append((done, rss_mb(), worker_rss_mb(), time.perf_counter() - start))
        if not args.json:
            print(f"{done:9d} programs  RSS {samples[-1][1]:8.1f} MB  worker "
                  f"{samples[-1][2]:6.1f} MB  {samples[-1][3]:8.0f} s", flush=True)
    after = [s for s in samples if s[0] >= args.warmup] or samples[-1:]
    reference = after[0][1]
    rss = [s[1] for s in after]
    total = [s[1] + s[2] for s in after]
    total_mean = sum(total) / len(total)
    slope, intercept = fit([s[0] for s in after], rss)
    # the second half alone: early growth (allocator arenas, caches filling) that levels off
    # should not be extrapolated to a million programs
    late = after[len(after) // 2:]
    late_slope, late_intercept = fit([s[0] for s in late], [s[1] for s in late])
    late_total_slope, late_total_intercept = fit([s[0] for s in late],
                                                 [s[1] + s[2] for s in late])
    total_slope, total_intercept = fit([s[0] for s in after], total)
    elapsed = samples[-1][3]
    result = {
        "programs": done,
        "seconds": elapsed,
        "programs_per_s": done / elapsed,
        "compiled": default_jit().compiled,
        "kernel_cache_bytes": caches.share_bytes("kernels"),
        "rss_mb_start": samples[0][1],
        "rss_mb_reference": reference,
        "rss_mb_final": samples[-1][1],
        "rss_mb_max_after_warmup": max(rss),
        "rss_mb_min_after_warmup": min(rss),
        "rss_within_10_percent": max(rss) <= 1.1 * reference and min(rss) >= 0.9 * reference,
        "rss_slope_kb_per_1000_programs": slope * 1000 * 1024,
        "rss_mb_extrapolated_to_1e6": intercept + slope * TARGET,
        "worker_rss_mb_max": max(s[2] for s in samples),
        "worker_recycles": default_jit()._worker.started if default_jit()._worker else 0,
        "total_rss_mb_mean_after_warmup": total_mean,
        "total_rss_within_10_percent_of_mean": max(total) <= 1.1 * total_mean
        and min(total) >= 0.9 * total_mean,
        "total_rss_slope_kb_per_1000_programs": total_slope * 1000 * 1024,
        "total_rss_mb_extrapolated_to_1e6": total_intercept + total_slope * TARGET,
        "late_rss_slope_kb_per_1000_programs": late_slope * 1000 * 1024,
        "late_rss_mb_extrapolated_to_1e6": late_intercept + late_slope * TARGET,
        "late_total_rss_mb_extrapolated_to_1e6": late_total_intercept
        + late_total_slope * TARGET,
        "mode": args.mode,
        "extrapolated": done < TARGET,
        "samples": samples,
        "mean_fitness": fitness_sum / max(done, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
