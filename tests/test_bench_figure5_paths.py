"""bench/figure5_paths.py: the steps between rungs lie in the Figure 5 search space, the
unread hidden pieces are neutral, and the switch to a hidden layer is one change from rung 2
and two from rung 1."""

from __future__ import annotations

import json

from conftest import load_bench

paths = load_bench("figure5_paths")


def test_paths_end_to_end(tmp_path):
    out = tmp_path / "paths.json"
    assert paths.main(["--rates", "0.003", "--run-seeds", "1", "--out", str(out)]) == 0
    steps = {r["step"]: r["fitness"] for r in json.loads(out.read_text())["steps"]}
    assert set(steps) == set(paths.STEPS)
    # the hidden pieces that nothing reads change nothing
    assert steps["1"] == steps["1 bare"]
    assert steps["2"] == steps["2 bare"]
    # from rung 1 each half of the switch breaks the program; both together climb
    assert max(steps["1+predict"], steps["1+learn"]) < steps["1"] < steps["1+both"]
    # from rung 2 one change climbs to the same program
    assert steps["2+relu"] == steps["1+both"] > steps["2"]


def test_a_runs_own_search_tasks_decide_whether_rung_2_beats_rung_1(tmp_path):
    """Run seed 2's five search tasks put linear SGD ahead of SGD on max(x, 0), its twenty put
    it behind (docs/paper.md: the lever tasks_20)."""
    out = tmp_path / "paths.json"
    assert paths.main(["--run-seeds", "2", "--out", str(out)]) == 0
    rows = {r["search_tasks"]: r for r in json.loads(out.read_text())["search_signal"]}
    assert set(rows) == {5, 20} and all(r["run_seed"] == 2 for r in rows.values())
    assert rows[5]["rung_1"] > rows[5]["rung_2"]
    assert rows[20]["rung_2"] > rows[20]["rung_1"]
    # rung 2b (the floors trained) is ahead of both on either count on this seed
    assert all(r["rung_2b"] > max(r["rung_1"], r["rung_2"]) for r in rows.values())


def test_run_seed_5s_twenty_tasks_put_rung_2_behind_rung_1_and_2b_ahead(tmp_path):
    """On run seed 5's twenty search tasks the step from rung 1 to rung 2 loses fitness and
    rung 2b gains it: a valley (docs/paper.md, scaled_sends_pop_100 on seeds 4-6)."""
    out = tmp_path / "paths.json"
    assert paths.main(["--run-seeds", "5", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    row = next(r for r in data["search_signal"] if r["search_tasks"] == 20)
    assert row["rung_2"] < row["rung_1"] < row["rung_2b"]
    assert data["rung_2b"]["learning_rate"] == 0.03  # of 0.003, 0.01, 0.03
