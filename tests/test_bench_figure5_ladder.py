"""bench/figure5_ladder.py: every rung lies in the Figure 5 search space, and the ladder climbs."""

from __future__ import annotations

import json

import pytest
from conftest import load_bench

ladder = load_bench("figure5_ladder")


@pytest.fixture(scope="module")
def rungs_at_1000(tmp_path_factory):
    """The ladder on the final tasks at rate 0.01, run once for the tests that read it."""
    out = tmp_path_factory.mktemp("ladder") / "ladder.json"
    assert ladder.main(["--rates", "0.01", "--out", str(out)]) == 0
    return {r["program"]: r["fitness"] for r in json.loads(out.read_text())["rungs"]}


def test_ladder_end_to_end(rungs_at_1000):
    rungs = rungs_at_1000
    assert len(rungs) == 9
    # backpropagation beats training both layers without the ReLU derivative, which beats
    # every linear rung and the empty program; trained floors beat fixed ones
    assert rungs["6_backprop.amz"] > rungs["5_both_layers_no_derivative.amz"] > max(
        rungs["1_linear.amz"], rungs["2_relu_inputs.amz"]) > rungs["0_empty.amz"]
    assert rungs["5b_hidden_floors.amz"] > rungs["2b_trained_floors.amz"] > rungs[
        "2_relu_inputs.amz"]


def test_more_training_examples_widen_the_gap_to_backpropagation(tmp_path, rungs_at_1000):
    out = tmp_path / "ladder.json"
    assert ladder.main(["--rates", "0.01", "--num-train", "3000", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["final_tasks"]["train"] == 3000
    at_3000 = {r["program"]: r["fitness"] for r in result["rungs"]}
    gap = {n: r["6_backprop.amz"] - r["5b_hidden_floors.amz"]
           for n, r in ((1000, rungs_at_1000), (3000, at_3000))}
    assert gap[3000] > gap[1000] > 0


def test_a_program_outside_the_search_space_is_refused():
    from amzc.errors import AmzError
    from amzc.search.config import load_config
    from amzc.tasks import build_tasks

    cfg = load_config(ladder.CONFIG)
    tasks = build_tasks(cfg.final_tasks.spec)
    outside = "def Predict():\n  s1 = dot(v0, v0)\n  s1 = s1 * s1\n"  # scalar_product: Learn only
    with pytest.raises(AmzError):
        ladder.score(outside, "outside.amz", cfg, tasks, "numpy", 1)


def test_num_train_is_checked_and_never_overwrites_the_final_ladder(tmp_path, monkeypatch):
    with pytest.raises(SystemExit):
        ladder.main(["--num-train", "0"])
    monkeypatch.setattr(ladder, "RESULTS", tmp_path / "figure5_ladder.json")
    assert ladder.main(["--rates", "0.01", "--num-train", "200"]) == 0
    assert (tmp_path / "figure5_ladder_200.json").is_file()
    assert not (tmp_path / "figure5_ladder.json").exists()
