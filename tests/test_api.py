"""amzc.evolve, the library entry point: the README's example runs as written, and the result
holds what the run folder holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_search_cli import TINY

import amzc
from amzc.api import EvolveResult, RunInfo, evolve
from amzc.errors import AmzConfigError
from amzc.search.progress import Display, read_log, without_times

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The README's Python block that calls amzc.evolve."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (block,) = [b for b in blocks if "amzc.evolve(" in b]
    return block


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "runs" / "notebook" / "result.json").read_text())
    assert printed.startswith(f"final fitness {saved['final_fitness']:.4f} after 2,000 "
                              "individuals\n")
    assert printed.endswith(saved["program"] + "\n")


def test_the_result_holds_what_the_run_folder_holds(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    shown: list[RunInfo] = []

    def display(info: RunInfo) -> Display:
        shown.append(info)
        return Display()

    result = evolve(config, seed=3, out=tmp_path / "run", display=display)
    assert isinstance(result, EvolveResult) and amzc.evolve is evolve
    assert shown == [RunInfo("tiny", 3, tmp_path / "run", resumed=False)]
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result.summary == saved and result.folder == tmp_path / "run"
    assert result.program_text == (tmp_path / "run" / "best.amz").read_text()
    assert amzc.print_program(result.program) == result.program_text
    assert result.simplified_text == (tmp_path / "run" / "best_simplified.amz").read_text()
    assert (result.final_fitness, result.select_fitness, result.search_fitness) == (
        saved["final_fitness"], saved["select_fitness"], saved["search_fitness"])
    assert (result.individuals, result.experiments) == (120, 1)
    assert list(result.history) == read_log(tmp_path / "run" / "progress.jsonl")
    assert result.history[-1]["kind"] == "final"


def test_overrides_and_a_config_object(tmp_path):
    from amzc.search.config import load_config

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = evolve(config, out=tmp_path / "a", overrides={"stop.max_individuals": 40})
    assert result.individuals == 40
    again = evolve(load_config(config, overrides={"stop.max_individuals": 40}),
                   out=tmp_path / "b")
    assert again.program_text == result.program_text
    assert [without_times(r) for r in again.history] == \
        [without_times(r) for r in result.history]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give either a config"),
    ({"config": "x.toml", "resume": "runs/x"}, "give either a config"),
    ({"resume": "runs/x", "seed": 3}, "a resumed run keeps its seed"),
    ({"config": "x.toml", "workers": 0}, "--workers must be a positive number"),
    ({"config": "x.toml", "backend": "gpu"}, "backend must be auto"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(AmzConfigError, match=message):
        evolve(**kwargs)


def test_an_island_restart_rule_on_a_one_population_run_is_named(tmp_path, caplog):
    """[migration] max_stagnation restarts islands; a run with one population would ignore it
    without a word, so it says so (and points to the rule that does apply)."""
    import logging

    config = tmp_path / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "a", overrides={"migration.max_stagnation": 100})
    assert "max_stagnation restarts islands" in caplog.text
    assert "stop.max_stagnation" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "b")
    assert "max_stagnation" not in caplog.text


def test_main_exchange_where_it_cannot_do_what_it_says_is_named(tmp_path, caplog):
    """main_exchange = false on one population does nothing, and on islands without groups
    it stops all migration: both get a warning, a run with groups none."""
    import logging

    config = tmp_path / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    off = {"migration.main_exchange": False}
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "a", overrides=off)
    assert "main_exchange = false" in caplog.text and "one population" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "b", workers=1,
               overrides={**off, "migration.islands": 2, "migration.interval": 50})
    assert "without island groups" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "c", workers=1, overrides={
            **off, "migration.islands": 2, "migration.interval": 50,
            "migration.groups": [{"islands": 1, "num_train": 10}]})
    assert "main_exchange" not in caplog.text


def test_restart_keys_without_a_restart_rule_are_named(tmp_path, caplog):
    """restart_below, hold_above_arrivals, its ceilings, stagnation_growth,
    backtracks and fresh_tasks only shape max_stagnation's restarts: set where no island
    they apply to restarts, they would do nothing without a word; the hold and its
    ceilings also need an island that restarts to take migrants from other tasks."""
    import logging

    from amzc.api import idle_restart_keys
    from amzc.search.config import parse_config

    def idle(text: str) -> list[str]:
        return idle_restart_keys(parse_config(TINY + "[migration]\nislands = 3\n" + text))

    group = "[[migration.groups]]\nislands = 1\nnum_train = 10\n"
    assert idle("restart_below = 0.5\n") == ["migration.restart_below"]
    assert idle("hold_above_arrivals = 0.03\n") == ["migration.hold_above_arrivals"]
    # restarting main islands with no group: their arrivals are all from the same tasks
    assert idle("hold_above_arrivals = 0.03\nmax_stagnation = 1000\n") == \
        ["migration.hold_above_arrivals"]
    assert idle("hold_above_arrivals = 0.03\nmax_stagnation = 1000\n" + group) == []
    # only a group that takes no migrants restarts (configs/figure5.toml's shape)
    one_way = group + "max_stagnation = 1000\ntakes_migrants = false\n"
    assert idle("hold_above_arrivals = 0.03\n" + one_way) == ["migration.hold_above_arrivals"]
    assert idle(one_way + "hold_above_arrivals = 0.05\n") == \
        ["migration.groups[1].hold_above_arrivals"]
    assert idle(group + "max_stagnation = 1000\nhold_above_arrivals = 0.05\n") == []
    # release_above_arrivals, the hold's ceiling: idle where the hold is
    assert idle("hold_above_arrivals = 0.03\nrelease_above_arrivals = 0.07\n" + one_way) == \
        ["migration.hold_above_arrivals", "migration.release_above_arrivals"]
    assert idle(group + "max_stagnation = 1000\nhold_above_arrivals = 0.05\n"
                "release_above_arrivals = 0.07\n") == []
    # a group's own ceiling under the experiment's hold
    assert idle("hold_above_arrivals = 0.03\n" + group + "max_stagnation = 1000\n"
                "release_above_arrivals = 0.07\n") == []
    assert idle("hold_above_arrivals = 0.03\n" + one_way + "release_above_arrivals = 0.07\n") \
        == ["migration.hold_above_arrivals", "migration.groups[1].release_above_arrivals"]
    # release_after_rise, the other ceiling: likewise
    assert idle("hold_above_arrivals = 0.03\nrelease_after_rise = 0.03\n" + one_way) == \
        ["migration.hold_above_arrivals", "migration.release_after_rise"]
    assert idle("hold_above_arrivals = 0.03\n" + group + "max_stagnation = 1000\n"
                "release_after_rise = 0.03\n") == []
    assert idle("stagnation_growth = 2.0\n") == ["migration.stagnation_growth"]
    assert idle("backtracks = 2\n") == ["migration.backtracks"]
    assert idle("backtracks = 2\nmax_stagnation = 1000\n") == []
    assert idle(group + "backtracks = 2\n") == ["migration.groups[1].backtracks"]
    assert idle("restart_below = 0.5\nmax_stagnation = 1000\n") == []
    assert idle("") == []
    # inherited by a group that restarts: it does something there
    assert idle("restart_below = 0.5\n" + group + "max_stagnation = 1000\n") == []
    # ... unless the group sets its own
    assert idle("restart_below = 0.5\n" + group + "max_stagnation = 1000\n"
                "restart_below = 0.9\n") == ["migration.restart_below"]
    assert idle(group + "stagnation_growth = 1.5\n") == \
        ["migration.groups[1].stagnation_growth"]
    assert idle(group + "stagnation_growth = 1.5\nmax_stagnation = 10\n") == []
    assert idle(group + "fresh_tasks = true\n") == ["migration.groups[1].fresh_tasks"]
    assert idle(group + "fresh_tasks = true\nmax_stagnation = 10\n") == []
    assert idle(group + "fresh_tasks = false\n") == []
    config = tmp_path / "tiny.toml"
    config.write_text(TINY, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="amzc"):
        evolve(config, out=tmp_path / "a", workers=2,
               overrides={"migration.interval": 50, "migration.restart_below": 0.5})
    assert "migration.restart_below: set where no island restarts" in caplog.text
