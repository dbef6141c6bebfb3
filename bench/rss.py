"""Resident memory of a long search: runs ``amzc evolve`` on a config (default the Figure 5
config in the paper's one-process setting) in a child process for ``--minutes``, samples the
child's RSS from /proc every ``--every`` seconds, and reports how flat it stays after warm-up.

Flatness is judged on the second half of the samples (the first half is warm-up: the caches
fill, the interpreter is built, the compile worker starts): ``spread_pct`` is the largest
distance of a sample from their median, in percent of it (the goal: within ±10 %), and
``max_over_min`` the ratio of the largest to the smallest. RSS at 5, 10, 30 and 60 minutes is
listed when the run lasted that long. The compile worker (a child of the search, recycled) is
sampled apart: it is not the search's memory.

Each sample also has the child's CPU time (on a shared machine, a run's progress follows its
share of the cores). The JSON is rewritten every minute during the run ("partial": true), so
an interrupted run leaves its samples.

Usage: python bench/rss.py [--config configs/figure5.toml] [--minutes 60] [--every 10]
       [--seed 1] [--set KEY=VALUE ...] [--out bench/results/rss.json] [--plot PNG|none]
Writes bench/results/rss.json and bench/results/rss.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from figure5 import LEVERS  # bench/, beside this script
from revision import git_revision

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "rss.json"
MARKS_MIN = (5, 10, 30, 60)


def rss_mb(pid: int) -> float | None:
    """The process's resident set in MB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None  # a zombie has no VmRSS line


def children_rss_mb(pid: int) -> float:
    """The summed RSS of the process's children (the compile worker)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return 0.0
    return sum(rss_mb(k) or 0.0 for k in kids)


def flatness(samples: list[dict]) -> dict:
    """Spread of the RSS over the second half of the samples (after warm-up)."""
    tail = [s["rss_mb"] for s in samples[len(samples) // 2:]]
    if not tail:
        return {"samples": 0}
    median = statistics.median(tail)
    return {"samples": len(tail), "from_s": samples[len(samples) // 2]["t_s"],
            "median_mb": round(median, 1), "min_mb": round(min(tail), 1),
            "max_mb": round(max(tail), 1),
            "max_over_min": round(max(tail) / min(tail), 3),
            "spread_pct": round(100 * max(abs(v - median) for v in tail) / median, 1)}


def at_marks(samples: list[dict]) -> dict[str, float]:
    """RSS at 5, 10, 30, 60 minutes: the last sample at or before each."""
    marks = {}
    for minutes in MARKS_MIN:
        before = [s for s in samples if s["t_s"] <= minutes * 60]
        if before and samples[-1]["t_s"] >= minutes * 60 - 15:
            marks[f"{minutes}_min"] = before[-1]["rss_mb"]
    return marks


def cpu_s(pid: int) -> float | None:
    """The process's CPU time so far (user + system), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(config: Path, seconds: float, every: float, seed: int, overrides: list[str],
            report: Callable[[dict], None] | None = None) -> dict:
    """Run and sample; ``report`` gets the run so far every minute of samples."""
    with tempfile.TemporaryDirectory(prefix="amzc-rss-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "amzc", "evolve", "--config", str(config), "--seed",
               str(seed), "--out", str(out), "--quiet",
               "--set", f"stop.max_time_s={seconds:g}"]
        for item in overrides:
            cmd += ["--set", item]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        samples: list[dict] = []
        while child.poll() is None:
            rss = rss_mb(child.pid)
            if rss is not None:
                samples.append({"t_s": round(time.perf_counter() - start, 1),
                                "rss_mb": round(rss, 1),
                                "worker_mb": round(children_rss_mb(child.pid), 1),
                                "cpu_s": round(cpu_s(child.pid) or 0.0, 1)})
                if report is not None and len(samples) % max(1, round(60 / every)) == 0:
                    report({"samples": samples, "wall_s": samples[-1]["t_s"],
                            "individuals": None, "partial": True})
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=every)
        err = child.stderr.read() if child.stderr else ""
        if child.returncode != 0:
            raise SystemExit(f"amzc evolve failed ({child.returncode}):\n{err}")
        individuals = _individuals(out)
    return {"samples": samples, "wall_s": round(time.perf_counter() - start, 1),
            "individuals": individuals}


def _individuals(run: Path) -> int | None:
    progress = run / "progress.jsonl"
    if not progress.exists():
        return None
    last = None
    with progress.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if "total_individuals" in record:
                last = record["total_individuals"]
            elif record.get("kind") == "final":  # the total, also of a run too short to
                last = record["individuals"]  # log progress (a loaded machine's few seconds)
    return last


def plot(result: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    t = [s["t_s"] / 60 for s in result["samples"]]
    ax.plot(t, [s["rss_mb"] for s in result["samples"]], label="search process")
    ax.plot(t, [s["worker_mb"] for s in result["samples"]], label="compile worker",
            linewidth=0.8)
    flat = result["flatness"]
    if flat.get("samples"):
        ax.axhspan(flat["median_mb"] * 0.9, flat["median_mb"] * 1.1, alpha=0.15,
                   label="±10 % of the second half's median")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MB)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{Path(result['config']).name}, seed {result['seed']}: "
                 f"spread {flat.get('spread_pct', '-')} % after warm-up", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


DEFAULT_CONFIG = (ROOT / "configs" / "figure5.toml").resolve()
# configs/figure5.toml runs two islands in worker processes; its paper setting (the
# overrides of bench/figure5.py's lever baseline) searches in one process, the one sampled here
ONE_POPULATION = [f"{key}={json.dumps(value)}" for key, value in LEVERS["baseline"][0].items()]


def run_overrides(config: Path, given: list[str]) -> list[str]:
    """The run's overrides: the Figure 5 config gets its one-process setting first (the
    process sampled must be the one that searches); the user's come after and win."""
    return [*ONE_POPULATION, *given] if config.resolve() == DEFAULT_CONFIG else list(given)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="a config override for the run (repeatable)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--plot", default=None,
                        help="PNG path (default: --out with .png), or 'none'")
    args = parser.parse_args(argv)
    args.overrides = run_overrides(args.config, args.overrides)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    revision = git_revision()  # at the start: the code the run measures

    def save(run: dict) -> dict:
        result = {"config": str(args.config), "seed": args.seed, "minutes": args.minutes,
                  "every_s": args.every, "overrides": args.overrides, "revision": revision,
                  **run,
                  "rss_at": at_marks(run["samples"]), "flatness": flatness(run["samples"]),
                  "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        return result

    # written every minute too, so an interrupted run leaves its samples ("partial": true)
    result = save(measure(args.config, args.minutes * 60, args.every, args.seed,
                          args.overrides, save))
    if args.plot != "none":
        plot(result, Path(args.plot) if args.plot else args.out.with_suffix(".png"))
    flat = result["flatness"]
    print(f"{result['individuals'] or 0:,} individuals in {result['wall_s']:.0f} s; RSS at "
          f"{result['rss_at'] or '-'}; after warm-up {flat.get('min_mb')}-{flat.get('max_mb')}"
          f" MB, ±{flat.get('spread_pct')} % around {flat.get('median_mb')} MB")
    return result


if __name__ == "__main__":
    main()
