"""Search throughput with FEC and hurdles on and off (docs/evolution.md, "Performance").

Runs the demo's search (configs/demo.toml: 10 linear tasks, F = 4, P = 1000, T = 10, the demo's
ops and mutations) for a fixed number of individuals in one experiment, without early
selection or restarts, in these settings:

- ``fec``: FEC as in the demo (10 + 10 examples), children run as written (``fec.memo =
  false``, the demo's setting: no dead-code analysis; exact copies reuse their fingerprints);
- ``fec_live_memo``: FEC with the dead-code analysis and amzc's memos by live code;
- ``fec_no_memo``: FEC alone, every fingerprint run for real (on simplified programs);
- ``no_fec``: no FEC, amzc's memos on (live-code duplicates still reuse their fitness);
- ``no_fec_no_memo``: every individual fully evaluated, as the reference without FEC;
- ``fec_hurdles`` and ``no_fec_no_memo_hurdles``: the same with hurdles (75th percentile,
  checked after the first task).

Each setting runs in a fresh process pinned to one core; the figures are individuals per
second of wall time and of process CPU time, the FEC hit rate (per task lookup) and the share
of hurdle checks that stopped a candidate. The one-time build of the LLVM interpreter is
included, as a user would see it.

Usage: python bench/search_gains.py [--individuals 100000] [--seed 1]
Writes bench/results/search_gains.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from demo_time import one_core  # noqa: E402

SETTINGS = {
    "fec": {"fec": True, "memo": True, "hurdles": False, "written": True},
    "fec_live_memo": {"fec": True, "memo": True, "hurdles": False, "written": False},
    "fec_no_memo": {"fec": True, "memo": False, "hurdles": False, "written": False},
    "no_fec": {"fec": False, "memo": True, "hurdles": False, "written": False},
    "no_fec_no_memo": {"fec": False, "memo": False, "hurdles": False, "written": False},
    "fec_hurdles": {"fec": True, "memo": True, "hurdles": True, "written": True},
    "no_fec_no_memo_hurdles": {"fec": False, "memo": False, "hurdles": True,
                               "written": False},
}

CHILD = """
import json, sys, tempfile, time
from dataclasses import replace
from pathlib import Path
import amzc.search.evaluation as evaluation
from amzc.search.config import load_config
from amzc.search.experiment import Run

config_path, seed, individuals, fec, memo, hurdles, written, backend = sys.argv[1:9]
evaluation.MEMOIZE = memo == "1"
cfg = load_config(config_path, seed=int(seed))
cfg = replace(cfg, backend=backend, early_select=False, max_experiments=1,
              fec=replace(cfg.fec, enabled=fec == "1", memo=written == "0"),
              hurdles=replace(cfg.hurdles, enabled=hurdles == "1"),
              stop=replace(cfg.stop, max_individuals=int(individuals), max_train_steps=0,
                           max_stagnation=0, max_time_s=0))
with tempfile.TemporaryDirectory() as tmp:
    run = Run.start(cfg, Path(tmp) / "run")
    wall, cpu = time.perf_counter(), time.process_time()
    result = run.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
stats = run.state.stats  # the last experiment's counters
print(json.dumps({
    "individuals": result["individuals"], "wall_s": wall, "cpu_s": cpu,
    "individuals_per_s_wall": result["individuals"] / wall,
    "individuals_per_s_cpu": result["individuals"] / cpu,
    "fec_hit_rate": result["fec_hit_rate"], "hurdle_stop_rate": result["hurdle_stop_rate"],
    "best_search_fitness": result["search_fitness"], "backend": result["backend"],
    "task_evaluations": stats.task_evaluations, "backend_calls": stats.backend_calls,
    "train_steps": stats.train_steps}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--individuals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.toml")
    parser.add_argument("--only", nargs="*", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "search_gains.json")
    args = parser.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    results = {}
    for name in args.only:
        s = SETTINGS[name]
        command = [*one_core(), sys.executable, "-c", CHILD, str(args.config), str(args.seed),
                   str(args.individuals), *("1" if s[k] else "0" for k in ("fec", "memo",
                                                                          "hurdles",
                                                                          "written")),
                   args.backend]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed:\n{proc.stderr}")
        results[name] = {**s, **json.loads(proc.stdout.strip().splitlines()[-1])}
        r = results[name]
        fec = "-" if r["fec_hit_rate"] is None else f"{r['fec_hit_rate']:.1%}"
        stop = "-" if r["hurdle_stop_rate"] is None else f"{r['hurdle_stop_rate']:.1%}"
        print(f"{name:24s} {r['individuals_per_s_wall']:8,.0f}/s wall "
              f"{r['individuals_per_s_cpu']:8,.0f}/s cpu  FEC hits {fec:>6}  "
              f"hurdle stops {stop:>6}  full task evaluations {r['task_evaluations']:,}",
              flush=True)

    def gain(a: str, b: str) -> float | None:
        if a in results and b in results:
            return results[a]["individuals_per_s_cpu"] / results[b]["individuals_per_s_cpu"]
        return None

    summary = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT)
                      else args.config),
        "individuals": args.individuals, "seed": args.seed,
        "gains_cpu": {
            "fec_vs_none (memos off)": gain("fec_no_memo", "no_fec_no_memo"),
            "fec_as_in_the_demo_vs_none": gain("fec", "no_fec_no_memo"),
            "memos_with_fec": gain("fec_live_memo", "fec_no_memo"),
            "as_written_vs_live_memo": gain("fec", "fec_live_memo"),
            "hurdles_with_fec": gain("fec_hurdles", "fec"),
            "hurdles_without_fec": gain("no_fec_no_memo_hurdles", "no_fec_no_memo"),
        },
        "settings": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    for k, v in summary["gains_cpu"].items():
        if v is not None:
            print(f"{k}: {v:.2f}x")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
