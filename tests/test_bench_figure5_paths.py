"""bench/figure5_paths.py: the steps between rungs lie in the Figure 5 search space, the
unread hidden pieces are neutral, and the switch to a hidden layer is one change from rung 2
and two from rung 1."""

from __future__ import annotations

import json

from conftest import load_bench

paths = load_bench("figure5_paths")


def test_paths_end_to_end(tmp_path):
    out = tmp_path / "paths.json"
    assert paths.main(["--rates", "0.003", "--out", str(out)]) == 0
    steps = {r["step"]: r["fitness"] for r in json.loads(out.read_text())["steps"]}
    assert set(steps) == set(paths.STEPS)
    # the hidden pieces that nothing reads change nothing
    assert steps["1"] == steps["1 bare"]
    assert steps["2"] == steps["2 bare"]
    # from rung 1 each half of the switch breaks the program; both together climb
    assert max(steps["1+predict"], steps["1+learn"]) < steps["1"] < steps["1+both"]
    # from rung 2 one change climbs to the same program
    assert steps["2+relu"] == steps["1+both"] > steps["2"]
