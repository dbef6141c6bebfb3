"""bench/rss.py: the flatness figures, and a few seconds of the demo sampled from /proc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, load_bench

rss = load_bench("rss")


def _samples(values: list[float], every: float = 60.0) -> list[dict]:
    return [{"t_s": i * every, "rss_mb": v, "worker_mb": 0.0} for i, v in enumerate(values)]


def test_flatness_is_judged_after_warm_up():
    flat = rss.flatness(_samples([50, 300, 100, 100, 110, 90]))  # warm-up: the first half
    assert flat["samples"] == 3 and flat["median_mb"] == 100
    assert flat["min_mb"] == 90 and flat["max_mb"] == 110
    assert flat["spread_pct"] == 10.0 and flat["max_over_min"] == round(110 / 90, 3)


def test_rss_is_reported_at_the_minutes_the_run_reached():
    samples = _samples([100 + i for i in range(12)])  # one a minute, to 11 minutes
    assert rss.at_marks(samples) == {"5_min": 105, "10_min": 110}


def test_a_run_in_progress_is_saved_every_minute_of_samples(tmp_path, monkeypatch):
    out = tmp_path / "r.json"
    seen_during_run = []

    def measure(config, seconds, every, seed, overrides, report):
        report({"samples": _samples([1.0] * 6), "wall_s": 5, "partial": True})
        seen_during_run.append(json.loads(out.read_text()))
        return {"samples": _samples([2.0] * 6), "wall_s": 6, "individuals": 9}

    monkeypatch.setattr(rss, "measure", measure)
    result = rss.main(["--out", str(out), "--plot", "none"])
    assert seen_during_run[0]["partial"] and seen_during_run[0]["samples"][0]["rss_mb"] == 1.0
    assert json.loads(out.read_text()) == result and "partial" not in result


def test_a_few_seconds_of_the_demo(tmp_path):
    out = tmp_path / "rss.json"
    result = rss.main(["--config", str(ROOT / "configs" / "demo.toml"), "--minutes", "0.1",
                       "--every", "0.5", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["samples"] == result["samples"] and len(saved["samples"]) >= 4
    assert 20 < max(s["rss_mb"] for s in saved["samples"]) < 2000  # the first: at exec
    assert saved["individuals"] > 0 and saved["flatness"]["samples"] >= 2
    # a sample taken as the child exits has no CPU time (None): not a number to compare
    assert "partial" not in saved and max(s["cpu_s"] or 0.0 for s in saved["samples"]) > 0.5
    assert out.with_suffix(".png").stat().st_size > 1000


def test_the_result_names_the_code_it_measured():
    """A figure is re-measured when its code changes: the JSON says which commit ran."""
    import subprocess

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    assert rss.git_revision().split("+")[0] == head  # bench/revision.py's, as paired.py's


def test_the_figure5_config_is_sampled_in_its_one_process_setting(monkeypatch):
    """configs/figure5.toml searches on two islands in worker processes; rss.py samples one
    process, so it runs the config's paper setting (one population), however the path is
    spelled, and the user's overrides still come last."""
    from amzc.search.config import load_config, parse_override

    monkeypatch.chdir(ROOT)
    for spelled in (ROOT / "configs" / "figure5.toml", Path("configs/figure5.toml")):
        overrides = rss.run_overrides(spelled, ["population.size=10"])
        assert overrides[-1] == "population.size=10"
        cfg = load_config(spelled, overrides=dict(parse_override(o) for o in overrides))
        assert cfg.migration.islands == 0 and not cfg.migration.groups
        assert cfg.search_tasks.spec.num_tasks == 5 and cfg.population_size == 10
    assert rss.run_overrides(ROOT / "configs" / "demo.toml", ["a=1"]) == ["a=1"]
