"""Island scaling: search throughput with 1 and 2 workers, locally and on Ray, and the
migration traffic and coordinator load that a cluster of many workers would see
(docs/scaling.md).

Every mode runs the demo's search (configs/demo.toml: 10 linear tasks, F = 4, P = 1000, T = 10,
FEC on) in one experiment without early selection or restarts, until ``--individuals`` per
island have been evaluated:

- ``single``: one population in the coordinator's process (``amzc evolve`` without
  ``--workers``), the baseline;
- ``local-1``: the island engine with one island on one worker process (its overhead, no
  migration);
- ``local-2``: two islands on two worker processes (``--workers 2``);
- ``pair``: two ``single`` runs side by side in separate processes, no coordination: the
  most two busy processes get out of this machine (shared caches, memory bandwidth, clock),
  the ceiling for ``local-2``;
- ``ray-2``: the same two islands as actors of a private local Ray instance
  (``--workers 2 --ray local``), if Ray is installed.

Throughput is individuals per second of wall time during the search (from the first to the
last progress record, so start-up, selection and the final evaluation are left out). For the
island modes the run also records the round time, the bytes an island sends to the pool per
round (it receives as many; pickled wire-form programs, as both transports ship them), and the
coordinator's wall and CPU time per round outside waiting for the islands: the figures
docs/scaling.md extrapolates.
Each mode repeats ``--repeats`` times in fresh processes; the JSON holds medians.

Usage: python bench/scaling.py [--individuals 100000] [--interval 5000] [--repeats 3] [--json]
       [--out FILE]
Writes bench/results/scaling.json (or FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scaling.json"
MODES = ("single", "pair", "local-1", "local-2", "ray-2")

CHILD = r"""
import json, pickle, statistics, sys, tempfile, time
from dataclasses import replace
from pathlib import Path

import amzc.search.island_run as island_run
from amzc.search.config import load_config
from amzc.search.experiment import Run
from amzc.search.island_run import start_islands
from amzc.search.islands import LocalPool
from amzc.search.progress import read_log

mode, per_island, interval, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 1
kind, _, count = mode.partition("-")
islands = int(count) if count else 1
workers = min(islands, 2) if kind == "islands" else islands  # islands-k: k islands, 2 workers
cfg = load_config("configs/demo.toml", seed=seed)
cfg = replace(cfg, early_select=False, max_experiments=1, sufficient_fitness=None,
              checkpoint_every=0, progress_every=islands * interval,
              migration=replace(cfg.migration, islands=islands, interval=interval),
              stop=replace(cfg.stop, max_individuals=per_island * islands, max_train_steps=0,
                           max_stagnation=0))

rounds = {"n": 0, "busy_max": 0.0, "busy_mean": 0.0, "gap_s": 0.0, "end": None,
          "cpu0": None, "cpu1": None, "sent_bytes": []}
original = island_run.sample_arrivals

def measured_sample_arrivals(rng, emigrants, *args):
    if len(rounds["sent_bytes"]) < 3:  # sizes hardly change; sample a few rounds
        rounds["sent_bytes"].append(len(pickle.dumps(emigrants[0])))
    return original(rng, emigrants, *args)

island_run.sample_arrivals = measured_sample_arrivals

def measured(pool):
    collect = pool.collect
    def timed():
        t = time.perf_counter()
        if rounds["end"] is not None:  # the coordinator's own work between two rounds
            rounds["gap_s"] += t - rounds["end"]
        if rounds["cpu0"] is None:
            rounds["cpu0"] = time.process_time()
        out = collect()
        if not (out and isinstance(out[0], tuple) and hasattr(out[0][0], "busy_s")):
            return out  # not a round
        busy = [report.busy_s for report, _ in out]
        rounds["busy_max"] += max(busy)
        rounds["busy_mean"] += sum(busy) / len(busy)
        rounds["n"] += 1
        rounds["end"] = time.perf_counter()
        rounds["cpu1"] = time.process_time()
        return out
    pool.collect = timed
    return pool

folder = Path(tempfile.mkdtemp()) / "run"
cpu0 = time.process_time()
if mode == "single":
    run = Run.start(cfg, folder)
else:
    if mode == "ray-2":
        from amzc.search.ray_pool import RayPool
        pool = measured(RayPool("local", workers))
    else:
        pool = measured(LocalPool(workers))
    run = start_islands(cfg, folder, pool, islands)
result = run.run()
cpu = time.process_time() - cpu0
progress = [r for r in read_log(folder / "progress.jsonl") if r["kind"] == "progress"]
first, last = progress[0], progress[-1]
search_s = last["elapsed_s"] - first["elapsed_s"]
rate = (last["individuals"] - first["individuals"]) / search_s
n = rounds["n"]
print(json.dumps({
    "individuals_per_s": rate, "individuals": result["individuals"],
    "search_s": last["elapsed_s"], "coordinator_cpu_s": cpu, "rounds": n,
    "round_s": search_s / (n - 1) if n > 1 else None,
    # the coordinator's own work: between rounds (wall), and its CPU time during the rounds
    # (encoding requests, decoding answers, sampling migrants; it sleeps while islands work)
    "coordinator_s_per_round": rounds["gap_s"] / (n - 1) if n > 1 else None,
    "coordinator_cpu_s_per_round": (rounds["cpu1"] - rounds["cpu0"]) / n if n else None,
    "bytes_sent_per_worker_round": statistics.median(rounds["sent_bytes"])
        if rounds["sent_bytes"] else None,
    "fec_hit_rate": last["fec_hit_rate"],
    # an island's own work per round, and the slowest island's: what waiting and the
    # transport add is round_s minus these
    "island_busy_s_per_round": rounds["busy_mean"] / n if n else None,
    "slowest_island_busy_s_per_round": rounds["busy_max"] / n if n else None,
}))
"""


def run_mode(mode: str, individuals: int, interval: int) -> dict:
    if mode == "pair":  # two independent single runs at once: what two busy cores give
        procs = [_child("single", individuals, interval) for _ in range(2)]
        outs = [_result("pair", p) for p in procs]
        return {"individuals_per_s": sum(o["individuals_per_s"] for o in outs),
                "fec_hit_rate": statistics.mean(o["fec_hit_rate"] for o in outs)}
    return _result(mode, _child(mode, individuals, interval))


def _child(mode: str, individuals: int, interval: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(individuals), str(interval)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                                 "RAY_USAGE_STATS_ENABLED": "0"})


def _result(mode: str, proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def median_of(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--individuals", type=int, default=100_000,
                        help="individuals per island (the search of each mode)")
    parser.add_argument("--interval", type=int, default=5000,
                        help="individuals per island between migrations")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES),
                        help="among single, local-N, ray-N and islands-K (K islands on 2 "
                        "workers: the coordinator's load per island)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", type=Path, default=RESULTS, help="result file")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m != "ray-2" or ray_available()]
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for repeat in range(args.repeats):  # interleaved, so that machine noise hits every mode
        for mode in modes:
            t = time.perf_counter()
            runs[mode].append(run_mode(mode, args.individuals, args.interval))
            print(f"[{repeat + 1}/{args.repeats}] {mode}: "
                  f"{runs[mode][-1]['individuals_per_s']:,.0f} individuals/s "
                  f"({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    keys = ("individuals_per_s", "round_s", "island_busy_s_per_round",
            "slowest_island_busy_s_per_round", "coordinator_s_per_round",
            "coordinator_cpu_s_per_round", "bytes_sent_per_worker_round", "fec_hit_rate")
    summary = {m: {k: median_of(runs[m], k) for k in keys} for m in modes}
    rate = {m: summary[m]["individuals_per_s"] for m in modes}
    result = {
        "config": "configs/demo.toml (one experiment, no early selection)",
        "individuals_per_island": args.individuals, "interval": args.interval,
        "repeats": args.repeats,
        "machine": {"cpus_allowed": len(os.sched_getaffinity(0)),
                    "python": sys.version.split()[0]},
        "modes": summary,
        "ratios": {
            "local2_over_single": rate["local-2"] / rate["single"]
            if "local-2" in rate and "single" in rate else None,
            "local2_over_local1": rate["local-2"] / rate["local-1"]
            if "local-2" in rate and "local-1" in rate else None,
            "pair_over_single": rate["pair"] / rate["single"]
            if "pair" in rate and "single" in rate else None,
            "local2_over_pair": rate["local-2"] / rate["pair"]
            if "local-2" in rate and "pair" in rate else None,
            "ray2_over_local2": rate["ray-2"] / rate["local-2"]
            if "ray-2" in rate and "local-2" in rate else None,
        },
        "coordinator_cpu_s_per_round": {m: summary[m]["coordinator_cpu_s_per_round"]
                                        for m in modes},
        "targets": {"local2_over_single": 1.8, "ray2_over_local2": 0.9},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for m in modes:
            print(f"{m:8s} {rate[m]:>10,.0f} individuals/s")
        print(json.dumps(result["ratios"], indent=2))


if __name__ == "__main__":
    main()
