"""bench/paired.py: the paired rounds (both trees run, ratio, same-path check) and the
random-run child on a few programs."""

from __future__ import annotations

import os

import pytest
from conftest import ROOT, load_bench

paired = load_bench("paired")

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="paired runs need two cores")


def test_random_run_rounds_time_the_same_programs_in_both_trees():
    bench = paired.BENCHES["random-run"]
    argv = [str(ROOT / "bench" / "throughput.py"), "300", "1"]
    rounds = paired.paired_rounds(ROOT, ROOT, 2, bench.child, argv, ("programs", "fitness"),
                                  bench.kept)
    assert len(rounds) == 2
    for row in rounds:
        assert row["base_cpu_s"] > 0 and row["head_cpu_s"] > 0
        assert row["ratio"] > 0
        assert row["base_compiled"] == row["head_compiled"] == 0
    summary = paired.summary(rounds, "HEAD", bench="random-run")
    assert summary["min_ratio"] <= summary["median_ratio"] <= summary["max_ratio"]


def test_versions_that_disagree_on_the_work_are_refused(tmp_path):
    child = "import json, os; print(json.dumps({'cpu_s': 1.0, 'tree': os.getcwd()}))"
    assert paired.paired_rounds(ROOT, ROOT, 1, child, [], ("tree",))[0]["ratio"] == 1.0
    with pytest.raises(SystemExit, match="different paths: tree"):
        paired.paired_rounds(ROOT, tmp_path, 1, child, [], ("tree",))


def test_search_rounds_take_config_overrides():
    """--set reaches the search child: Figure 5's config as one population (its islands
    off), a few thousand individuals, the same path in both trees."""
    args = paired.argparse.Namespace(config="configs/figure5.toml", seed=1, individuals=1500,
                                     other_path=False,
                                     settings=["migration.islands=0", "migration.groups=[]",
                                               "population.size=100",
                                               "tasks.search.num_tasks=2"])
    bench = paired.BENCHES["search"]
    argv = bench.argv(args)
    assert paired.json.loads(argv[-1])["population.size"] == 100
    (row,) = paired.paired_rounds(ROOT, ROOT, 1, bench.child, argv, bench.same(args),
                                  bench.kept)
    assert row["base_fec_hit_rate"] == row["head_fec_hit_rate"] > 0
