"""bench/figure5_attempts.py: attempts and successes of a one-population search on the Figure 5
linear island's tasks, counted from its progress records."""

from __future__ import annotations

import json

from conftest import load_bench

attempts_bench = load_bench("figure5_attempts")


def test_attempts_count_ended_experiments_and_a_cut_off_one_only_if_it_succeeded():
    def end(experiment, reason, fitness):
        return {"kind": "experiment_end", "experiment": experiment, "reason": reason,
                "search_fitness": fitness}

    log = [{"kind": "best", "experiment": 0, "individuals": 900, "fitness": 0.68},
           end(0, "stagnation", 0.68),
           {"kind": "best", "experiment": 1, "individuals": 500, "fitness": 0.95},
           {"kind": "best", "experiment": 1, "individuals": 800, "fitness": 0.99},
           end(1, "stagnation", 0.99),
           end(2, "max_time", 0.5)]
    found = attempts_bench.attempts(log, 0.9)
    assert (found["attempts"], found["successes"]) == (2, 1)
    assert found["individuals_to_success"] == [500]  # the first best at or above 0.9
    lo, hi = found["rate_ci95"]
    assert 0 < lo < 0.5 < hi < 1
    cut_off_win = log[:-1] + [{"kind": "best", "experiment": 2, "individuals": 10,
                               "fitness": 0.91}, end(2, "max_time", 0.91)]
    assert attempts_bench.attempts(cut_off_win, 0.9)["successes"] == 2


def test_overrides_make_a_valid_one_population_linear_config():
    from amzc.search.config import load_config

    cfg = load_config(attempts_bench.CONFIG, overrides=attempts_bench.overrides(
        200, 100000, 1.0, 2.0))
    spec = cfg.search_tasks.spec
    assert (spec.kind, spec.num_train, spec.num_tasks, spec.scale_spread) == (
        "linear", 100, 5, 2.0)
    assert cfg.migration.groups == () and cfg.population_size == 200
    assert cfg.final_tasks.spec.kind == "linear"


def test_a_short_run_end_to_end(tmp_path):
    out = tmp_path / "attempts.json"
    assert attempts_bench.main(["--settings", "20:500", "--minutes", "0.05",
                                "--set", "population.tournament=5",
                                "--out", str(out), "--keep-runs", str(tmp_path)]) == 0
    result = json.loads(out.read_text())
    assert result["overrides"] == {"population.tournament": 5}
    (row,) = result["rows"]
    assert (row["population"], row["window"]) == (20, 500)
    # how many attempts end in 3 s depends on the machine's load (none on a busy one): the
    # counting itself is pinned by the test above
    assert row["individuals"] > 0 and row["cpu_s"] > 0
    assert len(row["best_per_attempt"]) == row["attempts"] >= row["successes"]
    assert row["rate"] == (row["successes"] / row["attempts"] if row["attempts"] else 0.0)
    assert all(0 <= f <= 1 for f in row["best_per_attempt"])


def test_set_overrides_every_setting_last_and_bad_ones_are_refused(tmp_path, capsys):
    import pytest

    from amzc.search.config import load_config

    extra = {"population.tournament": 30, "tasks.search.num_tasks": 7}
    cfg = load_config(attempts_bench.CONFIG, overrides=attempts_bench.overrides(
        200, 100000, 1.0, 1.0, extra))
    assert cfg.tournament_size == 30 and cfg.search_tasks.spec.num_tasks == 7  # --set wins
    assert cfg.population_size == 200
    for bad, named in ((["--set", "population.tournament=abc"], "population.tournament"),
                       (["--set", "population.size=50"], "set by each setting")):
        with pytest.raises(SystemExit) as stop:
            attempts_bench.main([*bad, "--out", str(tmp_path / "x.json")])
        assert stop.value.code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_a_signal_stops_the_run_and_the_attempts_so_far_are_written(tmp_path, monkeypatch):
    """SIGTERM (or Ctrl-C) during a setting: no traceback, no further setting; the ended
    attempts and the cut-off one that had succeeded are counted and written, the row says it
    was stopped, and the exit code is the signal's (128 + 15)."""
    import signal

    import amzc
    from amzc.search.experiment import Interrupted

    calls = []

    def stopped_evolve(config, *, seed, out, force, overrides):
        calls.append(out)
        out.mkdir(parents=True, exist_ok=True)
        records = [{"kind": "progress", "experiment": 0, "total_individuals": 700},
                   {"kind": "best", "experiment": 0, "individuals": 600, "fitness": 0.5},
                   {"kind": "experiment_end", "experiment": 0, "reason": "stagnation",
                    "search_fitness": 0.5},
                   {"kind": "best", "experiment": 1, "individuals": 80, "fitness": 0.95},
                   {"kind": "progress", "experiment": 1, "total_individuals": 900}]
        (out / "progress.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        raise Interrupted(out, signal.SIGTERM)

    monkeypatch.setattr(amzc, "evolve", stopped_evolve)
    out = tmp_path / "attempts.json"
    assert attempts_bench.main(["--settings", "20:500,30:500", "--jobs", "1", "--minutes", "1",
                                "--out", str(out), "--keep-runs", str(tmp_path)]) == 143
    assert len(calls) == 1  # the second setting never started
    (row,) = json.loads(out.read_text())["rows"]
    assert (row["stopped"], row["attempts"], row["successes"], row["individuals"]) == (
        143, 2, 1, 900)
    assert row["best_per_attempt"] == [0.5, 0.95] and row["individuals_to_success"] == [80]
