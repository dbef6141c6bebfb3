"""How often a search on the Figure 5 linear island's tasks finds linear regression by SGD:
successes per attempt and per CPU-hour, for several (population size, restart window) settings.

The linear island of configs/figure5.toml starts again from random programs after
``max_stagnation`` of its individuals without its best rising by 0.01, until it has solved its
tasks. In the island runs SGD came rarely (2 of 46 attempts of 200,000 over three seeds) and
late, and M1 waits for it. Whether more, cheaper attempts would pay is what this measures,
without the teacher island: each setting is one population on the linear island's tasks
(the Figure 5 search space, F = 8, 5 tasks of 100 examples, ``--spread``: the linear kind's
``scale_spread``), run for ``--minutes`` as a series of experiments that each end after
``window`` individuals without a rise of 0.01 (``stop.max_stagnation``). Each attempt draws
new tasks (the config's ``randomize``), so the rate is over task draws as well, as the
islands' rates over run seeds are. An attempt succeeds when its best search fitness reaches
``--success`` (default 0.9: on standard features SGD scores 0.88-0.99 there at rates
0.03-0.1, the Hebbian rule at most 0.68; with ``--spread 2`` SGD's best is 0.87-0.97, so give
a lower bar, e.g. 0.75; bench/figure5_linear.py). The settings run side by side, one process
each (one per core).

Per setting the JSON gives the attempts (experiments that ended; the one the budget cut off
counts only if it had succeeded), successes with a 95 % Wilson interval of the rate per
attempt, individuals and CPU seconds, successes per CPU-hour, and the individuals each success
took within its attempt (to within ``run.progress_every``, 10,000: the log keeps the last rise
before each progress record). Stopped by a signal (Ctrl-C, SIGTERM; with ``--jobs 1`` or a
single setting, where the runs are in this process), it runs no further setting and writes
the attempts so far (the one cut off counts if it had succeeded), the row marked
``stopped``, and exits with the signal's code.

Usage: python bench/figure5_attempts.py [--settings 1000:200000,200:100000] [--minutes 30]
       [--seed 1] [--spread 1] [--success 0.9] [--set KEY=VALUE ...] [--jobs N]
       [--keep-runs DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from figure4 import wilson  # bench/, beside this script
from jobs import side_by_side
from revision import git_revision

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "figure5.toml"
RESULTS = ROOT / "bench" / "results" / "figure5_attempts.json"


# the keys each setting sets, which --set may not change
OWNED = frozenset({"population.size", "stop.max_stagnation", "stop.max_time_s",
                   "run.max_experiments"})


def overrides(population: int, window: int, minutes: float, spread: float,
              extra: dict | None = None) -> dict:
    """configs/figure5.toml turned into one population searching the linear island's tasks
    (as its [[migration.groups]] has them), experiments ending on a stalled window; ``extra``
    (``--set``, none of :data:`OWNED`) last, so it can change the rest."""
    linear = {"kind": "linear", "num_train": 100, "num_valid": 100}
    return {
        "migration.islands": 0, "migration.groups": [],
        **{f"tasks.search.{k}": v for k, v in linear.items()},
        "tasks.search.num_tasks": 5, "tasks.search.scale_spread": spread,
        # T_select and the final tasks follow the search tasks' kind; a few suffice here
        "tasks.select.num_tasks": 5, "tasks.select.num_train": 100,
        "tasks.final.num_tasks": 10, "tasks.final.num_train": 100,
        "population.size": population,
        "stop.max_stagnation": window, "stop.stagnation_delta": 0.01,
        "stop.max_time_s": minutes * 60, "run.max_experiments": 0, "run.select_bests": False,
        "run.checkpoint_every": 0, "run.progress_every": 10000,
        **(extra or {}),
    }


def attempts(log: list[dict], success: float) -> dict:
    """Attempts and successes from a run's progress records. An attempt that did not end on
    its own (cut off by the time budget, or by a signal before it wrote its end) counts only
    if it had succeeded."""
    ends = {r["experiment"]: r for r in log if r.get("kind") == "experiment_end"}
    first_hit: dict[int, int] = {}
    best: dict[int, float] = {}
    for r in log:
        if r.get("kind") == "best":
            best[r["experiment"]] = max(best.get(r["experiment"], r["fitness"]), r["fitness"])
            if r["fitness"] >= success:
                first_hit.setdefault(r["experiment"], r["individuals"])
    counted = [e for e in sorted(set(ends) | set(best))
               if (e in ends and ends[e]["reason"] != "max_time") or e in first_hit]
    wins = [e for e in counted if e in first_hit]
    n, s = len(counted), len(wins)
    return {"attempts": n, "successes": s, "rate": s / n if n else 0.0,
            "rate_ci95": wilson(s, n),
            "individuals_to_success": [first_hit[e] for e in wins],
            "best_per_attempt": [round(ends[e]["search_fitness"] if e in ends else best[e], 4)
                                 for e in counted]}


def run_setting(population: int, window: int, args: argparse.Namespace, folder: Path) -> dict:
    """One setting's run (in a process of its own) and its attempts."""
    import amzc
    from amzc.search.experiment import Interrupted
    from amzc.search.progress import read_log

    wall, cpu = time.time(), time.process_time()
    stopped = None
    try:
        individuals = amzc.evolve(CONFIG, seed=args.seed, out=folder, force=True,
                                  overrides=overrides(population, window, args.minutes,
                                                      args.spread, args.extra)).individuals
    except Interrupted as interrupt:  # stopped early: the attempts so far still count
        stopped, individuals = interrupt.exit_code, 0
    wall, cpu = time.time() - wall, time.process_time() - cpu
    log = read_log(folder / "progress.jsonl")
    if stopped is not None:
        individuals = max((r.get("total_individuals", 0) for r in log), default=0)
    found = attempts(log, args.success)
    row = {"population": population, "window": window, "wall_s": wall, "cpu_s": cpu,
           "individuals": individuals, **found,
           "successes_per_cpu_hour": found["successes"] / (cpu / 3600) if cpu else 0.0}
    if stopped is not None:
        row["stopped"] = stopped  # the exit code of the signal that ended it
    return row


def parse_settings(parser: argparse.ArgumentParser, text: str) -> list[tuple[int, int]]:
    try:
        settings = [tuple(int(x) for x in item.split(":")) for item in text.split(",")]
    except ValueError:
        settings = []
    if not settings or any(len(s) != 2 or min(s) < 1 for s in settings):
        parser.error(f"--settings: POPULATION:WINDOW pairs of positive integers, "
                     f"comma-separated, not {text!r}")
    return settings  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="1000:200000,200:100000",
                        help="POPULATION:WINDOW pairs, comma-separated; run side by side")
    parser.add_argument("--minutes", type=float, default=30.0, help="budget per setting")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="scale_spread of the linear tasks (1: standard normal features)")
    parser.add_argument("--success", type=float, default=0.9,
                        help="search fitness that counts as SGD found")
    parser.add_argument("--jobs", type=int, default=None,
                        help="settings run at a time (default: all, at most one per core)")
    parser.add_argument("--keep-runs", type=Path, help="keep the run folders here")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every setting, as amzc evolve --set "
                        "(e.g. population.tournament=30); repeatable")
    args = parser.parse_args(argv)
    settings = parse_settings(parser, args.settings)
    from amzc.errors import AmzConfigError
    from amzc.search.config import load_config, parse_override
    try:
        args.extra = dict(parse_override(text) for text in args.sets)
        owned = sorted(set(args.extra) & OWNED)
        if owned:
            parser.error(f"--set {', '.join(owned)}: set by each setting (--settings, "
                         "--minutes); a row's population and window must be what ran")
        for population, window in settings:
            load_config(CONFIG, overrides=overrides(population, window, args.minutes,
                                                    args.spread, args.extra))
    except AmzConfigError as error:
        parser.error(str(error))
    if not args.minutes > 0:
        parser.error("--minutes must be > 0")
    base = args.keep_runs or Path(tempfile.mkdtemp(prefix="amzc-attempts-"))

    def report(row: dict) -> None:
        lo, hi = row["rate_ci95"]
        print(f"population {row['population']:5d} window {row['window']:7d}: "
              f"{row['successes']}/{row['attempts']} attempts found SGD ({lo:.3f}-{hi:.3f}), "
              f"{row['successes_per_cpu_hour']:.2f} per CPU-hour, "
              f"{row['individuals']:,} individuals in {row['cpu_s']:.0f} CPU s", flush=True)

    calls = [(population, window, args, base / f"p{population}_w{window}")
             for population, window in settings]
    jobs = args.jobs or min(len(calls), os.cpu_count() or 1)
    rows = side_by_side(run_setting, calls, jobs, report, stop=lambda row: "stopped" in row)
    result = {"benchmark": "figure5_attempts", "revision": git_revision(),
              "date": time.strftime("%Y-%m-%d"), "config": str(CONFIG.relative_to(ROOT)),
              "minutes": args.minutes, "seed": args.seed, "spread": args.spread,
              "success": args.success, "overrides": args.extra, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    stopped = [row["stopped"] for row in rows if "stopped" in row]
    print(f"wrote {args.out}" + (" (stopped early: the attempts up to the signal)"
                                 if stopped else ""))
    return stopped[0] if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
