"""bench/figure6.py and bench/table_s5.py: the Figure 6 configs, the budget and data-folder
overrides, the transfer to F = 64, the statistics, and both commands end to end on a tiny
budget (also on CIFAR-10 files written here in the dataset's own format)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from conftest import ROOT, load_bench
from test_tasks_cifar10 import batch, write

from amzc.errors import AmzConfigError
from amzc.search.config import load_config

figure6 = load_bench("figure6")
table_s5 = load_bench("table_s5")
CONFIGS = ["figure6.toml", "figure6_full.toml", "figure6_cifar10.toml"]


@pytest.mark.parametrize("name", CONFIGS)
def test_configs_start_from_empty_programs_with_insert_and_remove(name):
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.initial_population == "no_op"
    assert all(c.init_size == 0 for c in cfg.search_space.components.values())
    assert dict(cfg.mutation.types)["insert_or_remove"] > 0
    assert cfg.fec.enabled and cfg.hurdles.enabled
    assert not cfg.search_tasks.spec.held_out
    assert cfg.select_tasks.spec.held_out and cfg.final_tasks.spec.held_out
    assert cfg.final_tasks.spec.num_tasks == 100 and cfg.final_tasks.spec.epochs == 1
    assert [p.name for p in cfg.baselines] == ["logistic_regression.amz", "neural_net.amz"]
    assert cfg.select_bests  # the candidate: the logged best scoring highest on T_select


def test_digits_search_on_30_tasks():
    """10 digits tasks (1,000 validation examples) are overfit by a long search."""
    cfg = load_config(ROOT / "configs" / "figure6.toml")
    assert cfg.search_tasks.spec.num_tasks == 30 and cfg.search_tasks.randomize


def test_the_full_config_is_the_papers_search_space():
    cfg = load_config(ROOT / "configs" / "figure6_full.toml")
    space = cfg.search_space
    assert (space.memory.scalars, space.memory.vectors, space.memory.matrices) == (8, 14, 3)
    assert [space.components[c].max_size for c in ("setup", "predict", "learn")] == [21, 21, 45]
    assert sorted(op.id for op in space.components["setup"].ops) == list(range(56, 65))
    assert sorted(op.id for op in space.components["learn"].ops) == [*range(1, 56), 60, 61]


def test_digits_sizes():
    spec = load_config(ROOT / "configs" / "figure6.toml").final_tasks.spec
    assert (spec.kind, spec.features, spec.num_train, spec.num_valid) == ("digits", 16, 250, 100)


def test_configure_replaces_the_stop_rule_and_the_data_folder(tmp_path):
    cfg = figure6.configure(ROOT / "configs" / "figure6_cifar10.toml", 7, budget_s=30,
                            data_dir=str(tmp_path))
    assert cfg.seed == 7 and cfg.stop.max_time_s == 30 and cfg.stop.max_individuals == 0
    for tasks in (cfg.search_tasks, cfg.select_tasks, cfg.final_tasks):
        assert tasks.spec.data_dir == str(tmp_path.resolve())
    cfg = figure6.configure(ROOT / "configs" / "figure6.toml", 1, individuals=500)
    assert cfg.stop.max_individuals == 500 and cfg.stop.max_time_s == 0
    cfg = figure6.configure(ROOT / "configs" / "figure6.toml", 1,
                            overrides={"tasks.search.num_tasks": 7, "population.size": 50})
    assert cfg.search_tasks.spec.num_tasks == 7 and cfg.population_size == 50


def test_first_at_goal():
    points = [{"elapsed_s": t, "individuals": 10 * t, "final_accuracy": a}
              for t, a in ((1, 0.5), (2, 0.951), (3, 0.94), (4, 0.96))]
    assert figure6.first_at_goal(points)["elapsed_s"] == 2
    assert figure6.first_at_goal(points, goal=0.955)["individuals"] == 40
    assert figure6.first_at_goal(points[:1]) is None


def test_transfer_scores_at_64_features(tmp_path):
    cfg = figure6.configure(_tiny_config(tmp_path, "figure6.toml"), 1)
    logistic = (ROOT / "examples" / "logistic_regression.amz").read_text()
    empty = (ROOT / "examples" / "empty.amz").read_text()
    scores = figure6.transfer(cfg, logistic)
    assert scores["features"] == 64
    assert scores["evolved"] == pytest.approx(scores["logistic_regression"])
    assert scores["evolved"] > 0.9
    assert figure6.transfer(cfg, empty)["evolved"] < 0.7  # always class 0


def _tiny_config(tmp_path: Path, name: str, data_dir: Path | None = None) -> Path:
    """``name`` shrunk to seconds: a population of 20, 2 search and 3 select/final tasks."""
    text = (ROOT / "configs" / name).read_text()
    text = text.replace('"../examples/', f'"{ROOT / "examples"}/')
    text = re.sub(r"num_tasks = \d+", "num_tasks = 3", text)
    text = re.sub(r"size = \d+\n", "size = 20\n", text)
    text = re.sub(r"progress_every = \d+", "progress_every = 20", text)
    if data_dir is not None:  # the test batches hold 40 images per class pair
        text = re.sub(r"num_train = \d+", "num_train = 24", text)
        text = re.sub(r"num_valid = \d+", "num_valid = 8", text)
        # FEC's fingerprint cannot use more examples than a task has
        text = text.replace("[fec]\nenabled = true\n", "[fec]\nenabled = true\nnum_valid = 8\n")
        text = text.replace('data_dir = "../data/cifar-10-batches-py"', 'data_dir = "nowhere"')
    path = tmp_path / name
    path.write_text(text)
    return path


def test_figure6_end_to_end(tmp_path, capsys):
    out = tmp_path / "results" / "f6.json"
    config = _tiny_config(tmp_path, "figure6.toml")
    assert figure6.main(["--config", str(config), "--seeds", "1", "--individuals", "200",
                         "--set", "population.tournament=5",
                         "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["overrides"] == {"population.tournament": 5}
    assert data["revision"] == figure6.git_revision()  # the code the runs measured
    assert "tournament = 5" in (tmp_path / "runs" / "seed1" / "config.toml").read_text()
    (row,) = data["seeds"]
    assert row["seed"] == 1 and row["individuals"] >= 200
    assert row["cpu_s"] > 0 and row["curve"]
    searched = [p["search_fitness"] for p in row["curve"]]
    assert searched == sorted(searched) and all(0 <= p["final_accuracy"] <= 1
                                                for p in row["curve"])
    # the last logged best is the run's result (no tie here to pick another program)
    assert row["curve"][-1]["final_accuracy"] == pytest.approx(row["final_accuracy"])
    assert 0.0 <= row["final_accuracy"] <= 1.0
    assert set(row["baselines"]) == {"logistic_regression", "neural_net"}
    assert row["baselines"]["logistic_regression"] > 0.8
    assert row["transfer"]["features"] == 64 and row["transfer"]["logistic_regression"] > 0.8
    assert (tmp_path / "results" / "f6_seed1.png").stat().st_size > 10_000
    assert (tmp_path / "results" / "f6_curves.png").stat().st_size > 10_000
    assert (tmp_path / "runs" / "seed1" / "result.json").is_file()
    assert "wrote" in capsys.readouterr().out


def test_figure6_runs_seeds_side_by_side(tmp_path):
    out = tmp_path / "f6.json"
    config = _tiny_config(tmp_path, "figure6.toml")
    assert figure6.main(["--config", str(config), "--seeds", "2,1", "--individuals", "100",
                         "--jobs", "2", "--runs", str(tmp_path / "runs"), "--out",
                         str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["jobs"] == 2 and [r["seed"] for r in data["seeds"]] == [2, 1]
    assert all((tmp_path / "runs" / f"seed{s}" / "result.json").is_file() for s in (1, 2))
    with pytest.raises(SystemExit):  # islands already take a core each
        figure6.main(["--config", str(config), "--jobs", "2", "--workers", "2"])


def test_figure6_on_cifar10_files(tmp_path):
    folder = tmp_path / "cifar"
    folder.mkdir()
    for i in range(1, 6):
        write(folder / f"data_batch_{i}", batch(i))
    config = _tiny_config(tmp_path, "figure6_cifar10.toml", folder)
    with pytest.raises(AmzConfigError, match="nowhere: no such folder"):
        figure6.main(["--config", str(config), "--individuals", "40",
                      "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "x.json")])
    out = tmp_path / "c.json"
    assert figure6.main(["--config", str(config), "--data-dir", str(folder), "--individuals",
                         "40", "--runs", str(tmp_path / "runs"), "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["seeds"]
    assert row["individuals"] >= 40 and 0.0 <= row["transfer"]["evolved"] <= 1.0


def test_mean_2sem():
    assert table_s5.mean_2sem([0.5]) == (0.5, 0.0)
    mean, sem2 = table_s5.mean_2sem([0.6, 0.7, 0.8])
    assert mean == pytest.approx(0.7)
    assert sem2 == pytest.approx(2 * 0.1 / math.sqrt(3))


def test_table_s5_end_to_end(tmp_path, capsys):
    out = tmp_path / "s5.json"
    config = _tiny_config(tmp_path, "figure6.toml")
    assert table_s5.main(["--config", str(config), "--seeds", "1", "--cpu-s", "2",
                          "--rows", "basic-1,full-2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [(r["method"], r["workers"], r["seeds"]) for r in data["rows"]] == \
        [("Basic", 1, 1), ("Full", 2, 1)]
    assert data["revision"] == table_s5.git_revision()
    assert [(r["row"], r["seed"]) for r in data["runs"]] == [("basic-1", 1), ("full-2", 1)]
    assert all(r["individuals"] > 0 for r in data["runs"])
    assert data["rows"][0]["paper_cifar10"] == 0.671
    printed = capsys.readouterr().out
    assert "| Basic | 1 | 2 s |" in printed and "| Full | 2 | 2 s |" in printed
    assert "logistic_regression (hand-written)" in printed


def test_table_s5_runs_one_process_rows_side_by_side(tmp_path, capsys):
    out = tmp_path / "s5.json"
    config = _tiny_config(tmp_path, "figure6.toml")
    assert table_s5.main(["--config", str(config), "--seeds", "1,2", "--cpu-s", "2",
                          "--rows", "full-1,basic-2", "--jobs", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["jobs"] == 2
    # the table's order, whatever order the runs finished in
    assert [(r["row"], r["seed"]) for r in data["runs"]] == \
        [("full-1", 1), ("full-1", 2), ("basic-2", 1), ("basic-2", 2)]
    assert all(r["individuals"] > 0 for r in data["runs"])
    assert "| Full | 1 | 2 s |" in capsys.readouterr().out


def test_results_name_paths_relative_to_the_repository(tmp_path):
    """The JSON reads the same on every checkout: paths inside the repository are relative."""
    assert figure6.shown(ROOT / "configs" / "figure6.toml") == "configs/figure6.toml"
    assert figure6.shown(ROOT / "runs" / ".." / "runs" / "x") == "runs/x"
    assert figure6.shown(tmp_path / "seed1") == str(tmp_path / "seed1")


def test_the_logistic_regression_bar_sweeps_its_learning_rate(tmp_path, capsys):
    """bench/figure6_bar.py: the shipped rate's row is the hand-written program as written
    (0.9590 on the final tasks, the figure the docs compare with), another rate changes it,
    and the result file names the best rate of each task set."""
    from amzc.parse import parse_file
    from amzc.search.evaluation import evaluate_on, load_backend
    from amzc.tasks import build_tasks

    bar = load_bench("figure6_bar")
    out = tmp_path / "bar.json"
    assert bar.main(["--rates", "0.1,1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["rate"] for r in result["rows"]] == [0.1, 1.0] and result["shipped_rate"] == 0.1
    cfg = load_config(ROOT / "configs" / "figure6.toml", 1)
    written, _ = evaluate_on(parse_file(bar.LOGISTIC), build_tasks(cfg.final_tasks.spec),
                             cfg.search_space.memory, load_backend(cfg.backend), 1,
                             cfg.max_abs_error)
    shipped, fast = result["rows"]
    assert shipped["final"] == written == pytest.approx(0.9590, abs=5e-5)
    assert fast["final"] < shipped["final"] and fast["select"] != shipped["select"]
    assert result["best_rate"] == {"ordinary": 0.1, "select": 0.1, "final": 0.1,
                                   "final_f64": 0.1}
    assert "(shipped)" in capsys.readouterr().out
    # the variants: each in the search space, each with its paired difference from the bar
    variants = {v["name"]: v for v in result["variants"]}
    assert set(variants) == set(bar.VARIANTS)
    no_bias = variants["no_bias"]  # the bias adds 0.0001 here
    assert no_bias["final"] == pytest.approx(no_bias["final_diff"] + written, abs=1e-9)
    assert no_bias["final"] != written and no_bias["final_diff_2sem"] > 0
    # bilinear interactions beat the bar by more than the noise (+0.0157 ± 0.0044 at the
    # rate T_select prefers), and the example program is that variant
    bilinear = variants["bilinear_rate_0.1"]
    assert bilinear["select"] == max(v["select"] for v in result["variants"])
    assert bilinear["final_diff"] > bilinear["final_diff_2sem"] > 0
    # and the search's own kind of tasks (ordinary pairs) see the gain: a search fitness
    # rewards it
    assert bilinear["ordinary"] > shipped["ordinary"] + 0.005
    example = (ROOT / "examples" / "bilinear_classifier.amz").read_text()
    assert bar.in_space(example, "example", cfg) == bar.in_space(bilinear["program"], "", cfg)
    with pytest.raises(SystemExit):
        bar.main(["--rates", "fast", "--out", str(out)])
