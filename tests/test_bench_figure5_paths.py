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
