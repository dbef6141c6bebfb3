"""`amzc evolve --workers N` and `--ray`: island runs end to end (amzc/search/island_run.py).

The Ray tests use a real single-node cluster that the test starts on the loopback interface
(`ray start --head --node-ip-address=127.0.0.1`) and stops afterwards."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_search_experiment import TINY
from typer.testing import CliRunner

from amzc.cli import app
from amzc.errors import AmzConfigError
from amzc.search.checkpoint import load_checkpoint
from amzc.search.config import load_config, parse_config
from amzc.search.island_run import start_islands
from amzc.search.islands import LocalPool
from amzc.search.progress import read_log, without_times

ISLANDS = TINY + "[migration]\ninterval = 50\nfraction = 0.5\n"
LONGER = (ISLANDS.replace("max_individuals = 300", "max_individuals = 12000")
          .replace("checkpoint_every = 100", "checkpoint_every = 1000")
          .replace("max_experiments = 2", "max_experiments = 1"))
AMZC = [sys.executable, "-m", "amzc"] if shutil.which("amzc") is None else ["amzc"]


def config(tmp_path: Path, text: str = ISLANDS) -> Path:
    path = tmp_path / "islands.toml"
    path.write_text(text)
    return path


def log_without_times(folder: Path) -> list[dict]:
    return [without_times(r) for r in read_log(folder / "progress.jsonl")]


def evolve(*args: str) -> None:
    result = CliRunner().invoke(app, ["evolve", "--quiet", *args])
    assert result.exit_code == 0, result.output


def test_island_runs_are_deterministic_and_migrate(tmp_path):
    cfg = config(tmp_path)
    evolve("-c", str(cfg), "--out", str(tmp_path / "a"), "--workers", "2")
    evolve("-c", str(cfg), "--out", str(tmp_path / "b"), "--workers", "2")
    a, b = log_without_times(tmp_path / "a"), log_without_times(tmp_path / "b")
    assert a == b
    assert (tmp_path / "a" / "best.amz").read_text() == (tmp_path / "b" / "best.amz").read_text()
    progress = [r for r in a if r["kind"] == "progress"]
    assert progress and progress[0]["individuals"] == 100  # two islands × 50 per round
    assert all("groups" not in r for r in progress)  # only runs with island groups
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    assert result["individuals"] >= 300 and 0.0 < result["final_fitness"] <= 1.0


def test_island_count_not_worker_count_decides_the_result(tmp_path):
    cfg = config(tmp_path, ISLANDS.replace("interval = 50", "interval = 50\nislands = 2"))
    evolve("-c", str(cfg), "--out", str(tmp_path / "two"), "--workers", "2")
    run = start_islands(load_config(cfg), tmp_path / "one", LocalPool(1), 2)
    run.run()  # the same two islands, both in one worker process
    assert log_without_times(tmp_path / "two") == log_without_times(tmp_path / "one")


@pytest.mark.parametrize("groups", [None, "", "promote_at = 0.25\n",
                                    "sends_above = 0.25\nfreezes_when_sending = true\n"],
                         ids=["islands", "island_groups", "promotion", "frozen"])
def test_island_run_killed_and_resumed_ends_as_an_uninterrupted_one(tmp_path, groups):
    text = LONGER
    if groups is not None:  # a third island, of another group: it resumes on its own tasks
        # and sizes (promoted: on the experiment's, whichever side of the kill that happened)
        text = LONGER.replace("interval = 50", "interval = 50\nislands = 3") + (
            "[[migration.groups]]\nislands = 1\nkind = \"affine\"\nnum_train = 10\n"
            "num_tasks = 1\npopulation = 12\ninterval = 100\n") + groups
    cfg = config(tmp_path, text)
    evolve("-c", str(cfg), "--out", str(tmp_path / "whole"), "--workers", "2")
    folder = tmp_path / "killed"
    proc = subprocess.Popen([*AMZC, "evolve", "-q", "-c", str(cfg), "--out", str(folder),
                             "--workers", "2"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        log = folder / "progress.jsonl"
        if (folder / "checkpoint.pkl").exists() and log.exists() and \
                log.read_text().count('"progress"') >= 25:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers
    proc.wait()
    assert not (folder / "result.json").exists()
    progress = [r for r in log_without_times(folder) if r["kind"] == "progress"]
    if groups and "promote_at" in groups:  # promoted after about 15 of the 25 progress
        assert progress[-1]["groups"][1]["promoted"] == 1  # records: before the kill
        assert load_checkpoint(folder)["state"].strategy["promoted"] == [2]
    if groups and "freezes_when_sending" in groups:  # frozen before the kill: resumed frozen
        assert progress[-1]["groups"][1]["frozen"] == 1
    evolve("--resume", str(folder), "--workers", "2")
    assert (folder / "best.amz").read_text() == (tmp_path / "whole" / "best.amz").read_text()
    assert log_without_times(folder) == log_without_times(tmp_path / "whole")


GROUPS = (ISLANDS.replace("interval = 50", "interval = 50\nislands = 3")
          .replace("max_individuals = 300", "max_individuals = 1500")) + (
    "[[migration.groups]]\nislands = 1\nkind = \"affine\"\nnum_train = 10\nnum_tasks = 1\n"
    "population = 12\ninterval = 200\n")


def test_island_groups_search_their_own_tasks_and_feed_the_main_islands(tmp_path, monkeypatch):
    """[[migration.groups]]: the last island evolves on 1 affine task of 10 examples, a
    population of 12 and rounds of 200; it sends and receives 6 migrants, the others 15. The run is
    deterministic, and its best is a main island's."""
    import amzc.api as api

    created, rounds = [], []

    class RecordingPool(api.LocalPool):
        def create_all(self, items):
            created.append([(i, c.population_size, spec) for i, c, spec, *_ in items])
            super().create_all(items)

        def submit(self, method, args):
            if method == "round":
                rounds.append([(n, count, len(arrivals)) for arrivals, n, count, *_ in args])
            super().submit(method, args)

    monkeypatch.setattr(api, "LocalPool", RecordingPool)
    cfg = config(tmp_path, GROUPS)
    evolve("-c", str(cfg), "--out", str(tmp_path / "a"), "--workers", "2")
    assert [i for i, _, _ in created[0]] == [0, 1, 2]
    (_, size0, spec0), (_, size1, spec1), (_, size2, spec2) = created[0]
    assert size0 == size1 == 30 and size2 == 12
    assert (spec0.num_train, spec0.num_tasks) == (20, 3) and spec1 == spec0
    assert (spec2.kind, spec2.num_train, spec2.num_valid, spec2.num_tasks) == \
        ("affine", 10, 10, 1) and spec0.kind == "linear"
    assert spec2.seeds()[0][0] == spec0.seeds()[0][0]  # the first task of the same stream
    assert rounds[0] == [(50, 15, 0), (50, 15, 0), (200, 6, 0)]
    assert [count for _, count, _ in rounds[2]] == [15, 15, 6]
    assert [arrived for _, _, arrived in rounds[2]] == [15, 15, 6]
    evolve("-c", str(cfg), "--out", str(tmp_path / "b"), "--workers", "2")
    log = log_without_times(tmp_path / "a")
    assert log == log_without_times(tmp_path / "b")
    progress = [r for r in log if r["kind"] == "progress"]
    assert [g["group"] for g in progress[-1]["groups"]] == [0, 1]
    main, cheap = progress[-1]["groups"]
    assert main["individuals"] + cheap["individuals"] == progress[-1]["individuals"]
    assert main["individuals"] == cheap["individuals"] // 2  # rounds of 2 × 50 and 200
    raw = [r for r in read_log(tmp_path / "a" / "progress.jsonl") if r["kind"] == "progress"]
    assert all(g["busy_s"] > 0 for g in raw[-1]["groups"])  # time in rounds: not compared
    assert main["best_fitness"] == progress[-1]["best_fitness"]
    # the two main islands' own rows; the group of one island has no list
    assert len(main["islands"]) == 2 and "islands" not in cheap
    assert max(i["best_fitness"] for i in main["islands"]) == main["best_fitness"]
    assert sum(i["individuals"] for i in main["islands"]) == main["individuals"]
    assert sum(i["restarts"] for i in main["islands"]) == main["restarts"]
    assert all(sum(i["busy_s"] for i in g["islands"]) == pytest.approx(g["busy_s"], abs=2e-3)
               for g in (r["groups"][0] for r in raw))


def test_a_group_island_that_reaches_promote_at_joins_the_main_islands(tmp_path, monkeypatch):
    """promote_at: the affine island is told to switch from the first round sent after one
    of its reports reaches the bar (round 2: rounds 0 and 1 go out together), and with
    every round after (an island rebuilt from an earlier checkpoint catches up); it then
    runs the main islands' rounds on their tasks, the tasks drawn for the experiment.
    Each experiment starts with the island at home. Deterministic."""
    import amzc.api as api

    rounds, created = [], []

    class RecordingPool(api.LocalPool):
        def create_all(self, items):
            created.append([(spec, target) for _, _, spec, _, _, target in items])
            super().create_all(items)

        def submit(self, method, args):
            if method == "round":
                rounds.append([(n, count, promote) for _, n, count, promote, _ in args])
            super().submit(method, args)

    monkeypatch.setattr(api, "LocalPool", RecordingPool)
    cfg = config(tmp_path, GROUPS + "promote_at = 0.0\n")  # promoted after its first round
    evolve("-c", str(cfg), "--out", str(tmp_path / "a"), "--workers", "2")
    assert len(created) == 2  # one creation per experiment
    for (main_spec, none0), (_, none1), (home_spec, (main, spec)) in created:
        assert none0 is none1 is None  # main islands have nothing to join
        assert spec == main_spec != home_spec  # the experiment's drawn tasks
        assert main.population_size == 30 and main.migration.interval == 50
    assert created[0][0][0] != created[1][0][0]  # each experiment draws its own
    flags = [[p for _, _, p in sent] for sent in rounds]
    assert all(f[:2] == [False, False] for f in flags)
    switched = [r for r, f in enumerate(flags) if f[2] and (r == 0 or not flags[r - 1][2])]
    assert len(switched) == 2 and switched[0] == 2  # once per experiment
    assert all(flags[r][2] for r in range(2, switched[1] - 2))  # then in every round
    assert [(n, count) for n, count, _ in rounds[1]] == [(50, 15), (50, 15), (200, 6)]
    assert [(n, count) for n, count, _ in rounds[3]] == [(50, 15)] * 3  # a main island now
    log = log_without_times(tmp_path / "a")
    progress = [r for r in log if r["kind"] == "progress"]
    assert progress[-1]["groups"][1]["promoted"] == 1 and "promoted" not in \
        progress[-1]["groups"][0]
    evolve("-c", str(cfg), "--out", str(tmp_path / "b"), "--workers", "2")
    assert log == log_without_times(tmp_path / "b")
    never = config(tmp_path, GROUPS + "promote_at = 1.0\n")  # unreachable on noisy tasks
    rounds.clear()
    evolve("-c", str(never), "--out", str(tmp_path / "c"), "--workers", "2")
    assert not any(p for sent in rounds for _, _, p in sent)
    rows = [r["groups"] for r in log_without_times(tmp_path / "c") if r["kind"] == "progress"]
    assert rows[-1][1]["promoted"] == 0


def test_a_group_that_takes_no_migrants_sends_but_receives_none(tmp_path, monkeypatch):
    """takes_migrants = false: the affine island sends its 6 migrants every round and takes
    none in; the main islands take 15 each from the whole pool, the affine island's
    emigrants included (marked for re-evaluation: other tasks). Once promoted, it takes
    them like any main island."""
    import amzc.api as api

    rounds = []

    class RecordingPool(api.LocalPool):
        def submit(self, method, args):
            if method == "round":
                rounds.append([(count, arrivals) for arrivals, _, count, *_ in args])
            super().submit(method, args)

    monkeypatch.setattr(api, "LocalPool", RecordingPool)
    evolve("-c", str(config(tmp_path, GROUPS + "takes_migrants = false\n")), "--out",
           str(tmp_path / "a"), "--workers", "2")
    later = [sent for sent in rounds if any(arrivals for _, arrivals in sent)]
    assert later and all([count for count, _ in sent] == [15, 15, 6] for sent in later)
    assert all([len(a) for _, a in sent] == [15, 15, 0] for sent in later)
    from_group = [m for sent in later for _, arrivals in sent[:2] for m in arrivals
                  if m[1] is None]  # measured on the affine task: evaluated again
    assert from_group
    rounds.clear()
    evolve("-c", str(config(tmp_path, GROUPS + "takes_migrants = false\npromote_at = 0.0\n")),
           "--out", str(tmp_path / "b"), "--workers", "2")
    assert any(len(sent[2][1]) == 15 for sent in rounds)  # promoted: a main island


def record_arrivals(monkeypatch, quiet: list | None = None) -> list[list[list]]:
    """Every round's arrivals, per island, as the coordinator sends them (LocalPool patched);
    each round's quiet-window flags go to ``quiet``, if given."""
    import amzc.api as api

    rounds: list[list[list]] = []

    class RecordingPool(api.LocalPool):
        def submit(self, method, args):
            if method == "round":
                rounds.append([arrivals for arrivals, *_ in args])
                if quiet is not None:
                    quiet.append([flag for *_, flag in args])
            super().submit(method, args)

    monkeypatch.setattr(api, "LocalPool", RecordingPool)
    return rounds


def test_main_islands_that_do_not_exchange_take_migrants_from_the_groups_only(
        tmp_path, monkeypatch):
    """main_exchange = false: the two main islands draw their arrivals from the affine
    island's 6 emigrants only (measured on other tasks, so without fitness), never from each
    other; with the default they also take each other's (with fitness)."""
    quiet: list[list[bool]] = []
    rounds = record_arrivals(monkeypatch, quiet)
    apart = GROUPS.replace("[[migration.groups]]", "main_exchange = false\n\n"
                                                   "[[migration.groups]]")
    assert apart != GROUPS
    evolve("-c", str(config(tmp_path, apart)), "--out", str(tmp_path / "a"), "--workers", "2")
    later = [sent for sent in rounds if any(sent)]
    assert later and all([len(a) for a in sent[:2]] == [6, 6] for sent in later)
    assert all(m[1] is None for sent in later for arrivals in sent[:2] for m in arrivals)
    assert all(len(sent[2]) == 6 for sent in later)  # the group draws from the whole pool
    # the group takes migrants, so it could carry the main islands' old members back: every
    # restart keeps its quiet window; with a group that takes none, the main islands' go
    assert quiet and all(flags == [True, True, True] for flags in quiet)
    quiet.clear()
    evolve("-c", str(config(tmp_path, apart + "takes_migrants = false\n")),
           "--out", str(tmp_path / "d"), "--workers", "2")
    assert quiet and all(flags == [False, False, True] for flags in quiet)
    rounds.clear()
    evolve("-c", str(config(tmp_path, GROUPS)), "--out", str(tmp_path / "b"), "--workers", "2")
    assert any(m[1] is not None for sent in rounds for arrivals in sent[:2] for m in arrivals)
    # deterministic, as every island run
    evolve("-c", str(config(tmp_path, apart)), "--out", str(tmp_path / "c"), "--workers", "2")
    assert log_without_times(tmp_path / "a") == log_without_times(tmp_path / "c")


def test_which_islands_restart_without_a_quiet_window():
    """A restarted island takes no migrants for a window unless every island it draws from
    takes none in (then none can hold its old members): with main_exchange = false, the
    main islands fed by a group that keeps to itself; a group that takes migrants can carry
    them back, and every island keeps the window with the default exchange."""
    from amzc.search.island_run import IslandSearch

    def quiet(text: str, promoted=()) -> list[bool]:
        search = IslandSearch(parse_config(text), None, 3)
        search.promoted = set(promoted)
        return search._quiet_restarts()

    apart = GROUPS.replace("[[migration.groups]]", "main_exchange = false\n\n"
                                                   "[[migration.groups]]")
    one_way = apart + "takes_migrants = false\n"
    assert quiet(one_way) == [False, False, True]  # the group itself draws from everyone
    assert quiet(apart) == [True, True, True]  # the group could carry them back
    assert quiet(GROUPS + "takes_migrants = false\n") == [True, True, True]
    # promoted, the group's island is a main one: the others draw from no one
    promoting = one_way + "promote_at = 0.5\n"
    assert quiet(promoting) == [False, False, True]
    assert quiet(promoting, promoted=[2]) == [False, False, False]


def test_which_islands_exchange_nothing_with_main_exchange_off():
    """_sources: receivers are the islands on the experiment's own tasks (a group that only
    changes its population is one of them) and promoted ones; feeders are the rest."""
    from types import SimpleNamespace

    from amzc.search.island_run import IslandSearch

    def sources(groups, main, promoted=(), promote_next=(), exchange=False):
        search = SimpleNamespace(
            config=SimpleNamespace(migration=SimpleNamespace(main_exchange=exchange)),
            main=main, island_count=len(groups), promoted=set(promoted),
            promote_next=set(promote_next))
        search.joined = IslandSearch.joined.fget(search)
        return IslandSearch._sources(search)

    # two main islands and a linear group
    assert sources([None, None, "linear"], (0, 1)) == [[2], [2], None]
    assert sources([None, None, "linear"], (0, 1), exchange=True) is None
    # a group of a bigger population on the same tasks is main too
    assert sources([None, "pop", "linear"], (0, 1)) == [[2], [2], None]
    # promoted, or promoted with the next round: a receiver, no longer a feeder
    assert sources([None, "linear", "linear"], (0,), promoted=[1]) == [[2], [2], None]
    assert sources([None, "linear", "linear"], (0,), promote_next=[2]) == [[1], None, [1]]
    # no groups: every island main, nothing to draw from
    assert sources([None, None], ()) == [[], []]


def test_a_group_sends_nothing_until_its_best_reaches_sends_above(tmp_path, monkeypatch):
    """sends_above: the affine island's emigrants join the pool only once its population's
    best has reached the threshold: at 1.0 (out of reach on these tasks) the main islands
    never receive a program measured on the affine task; at 0.0 they do, as without it."""
    rounds = record_arrivals(monkeypatch)

    def from_group(text: str, out: str) -> int:
        rounds.clear()
        evolve("-c", str(config(tmp_path, GROUPS + text)), "--out", str(tmp_path / out),
               "--workers", "2")
        assert any(arrivals for sent in rounds for arrivals in sent[:2])  # migration happens
        return sum(m[1] is None for sent in rounds for arrivals in sent[:2] for m in arrivals)

    assert from_group("sends_above = 1.0\n", "a") == 0
    assert from_group("sends_above = 0.0\n", "b") > 0
    assert from_group("", "c") > 0
    assert log_without_times(tmp_path / "b") == log_without_times(tmp_path / "c")  # a no-op
    assert log_without_times(tmp_path / "a") != log_without_times(tmp_path / "c")
    # the progress log says how many of the group's islands send
    rows = [r["groups"] for r in log_without_times(tmp_path / "a") if r["kind"] == "progress"]
    assert rows and all(row[1]["sending"] == 0 and "sending" not in row[0] for row in rows)
    assert all("sending" not in row[1] for r in log_without_times(tmp_path / "c")
               if r["kind"] == "progress" for row in [r["groups"]])
    assert from_group("sends_above = 0.01\n", "d") > 0  # reached: the group sends
    rows = [r["groups"] for r in log_without_times(tmp_path / "d") if r["kind"] == "progress"]
    assert rows[-1][1]["sending"] == 1


def test_a_group_that_freezes_when_sending_stops_evolving_and_keeps_sending(tmp_path):
    """freezes_when_sending: the affine island evolves until its best reaches sends_above,
    then evolves nothing more (its individuals stay put in the progress records, which count
    its frozen islands) while it goes on sending; the main islands go on evolving. A run
    whose group never reaches the threshold is the run without the key."""
    evolve("-c", str(config(tmp_path, GROUPS + "sends_above = 0.01\n"
                            "freezes_when_sending = true\n")),
           "--out", str(tmp_path / "frozen"), "--workers", "2")
    rows = [r for r in log_without_times(tmp_path / "frozen") if r["kind"] == "progress"]
    first = next(i for i, r in enumerate(rows) if r["groups"][1]["frozen"])
    assert first < len(rows) - 1  # frozen before the run's end, with rounds after it
    frozen = [r["groups"][1] for r in rows[first:]]
    assert all(g["frozen"] == 1 and g["sending"] == 1 for g in frozen)
    assert len({g["individuals"] for g in frozen}) == 1  # no child since it froze
    assert rows[-1]["groups"][0]["individuals"] > rows[first]["groups"][0]["individuals"]
    assert all("frozen" not in r["groups"][0] for r in rows)
    evolve("-c", str(config(tmp_path, GROUPS + "sends_above = 1.0\n"
                            "freezes_when_sending = true\n")),
           "--out", str(tmp_path / "never"), "--workers", "2")
    evolve("-c", str(config(tmp_path, GROUPS + "sends_above = 1.0\n")),
           "--out", str(tmp_path / "without"), "--workers", "2")
    never = [{**r, "groups": [{k: v for k, v in g.items() if k != "frozen"}
                              for g in r["groups"]]} if r["kind"] == "progress" else r
             for r in log_without_times(tmp_path / "never")]
    assert never == log_without_times(tmp_path / "without")


def report(island: int, best: float, **changes):
    """A round's report from ``island`` (a population of 10 all at ``best``)."""
    from amzc.search.islands import IslandReport
    from amzc.syntax import Program

    return IslandReport(island, 100, Program((), (), ()), best, best * 10, best * best * 10,
                        10, 0, 0, 0, 0, 0, **changes)


def test_the_run_reports_the_main_islands_only():
    from amzc.search.island_run import IslandsPopulation

    population = IslandsPopulation(10, [report(0, 0.5), report(1, 0.6), report(2, 0.9)],
                                   main=(0, 1))
    assert population.stats()[0] == 0.6  # island 2's 0.9 is on other tasks
    assert [r.island for r in population.main_reports()] == [0, 1]
    assert IslandsPopulation(10, population.reports).stats()[0] == 0.9  # no groups: all
    from dataclasses import replace
    population.reports[2] = replace(population.reports[2], promoted=True)  # promote_at
    assert [r.island for r in population.main_reports()] == [0, 1, 2]


def test_groups_run_as_islands_even_on_one_worker(tmp_path):
    cfg = config(tmp_path, GROUPS)
    evolve("-c", str(cfg), "--out", str(tmp_path / "one"), "--workers", "1")
    progress = [r for r in log_without_times(tmp_path / "one") if r["kind"] == "progress"]
    assert [g["group"] for g in progress[-1]["groups"]] == [0, 1]


def test_a_groups_mutation_types_reach_its_islands_only(tmp_path, monkeypatch):
    import amzc.api as api

    created = []

    class RecordingPool(api.LocalPool):
        def create_all(self, items):
            created.extend((i, c.mutation.types) for i, c, *_ in items)
            super().create_all(items)

    monkeypatch.setattr(api, "LocalPool", RecordingPool)
    text = GROUPS + "mutation_types = {alter_param = 2, randomize_instruction = 1}\n"
    evolve("-c", str(config(tmp_path, text)), "--out", str(tmp_path / "r"), "--workers", "1")
    default = parse_config(GROUPS).mutation.types
    assert created[:3] == [(0, default), (1, default),  # the first experiment's islands
                           (2, (("alter_param", 2.0), ("randomize_instruction", 1.0)))]
    # the same run without the key: another path (the group island mutates otherwise)
    evolve("-c", str(config(tmp_path, GROUPS)), "--out", str(tmp_path / "d"), "--workers", "1")
    cheap = [[g for g in r["groups"] if g["group"] == 1][0]["best_fitness"]
             for r in log_without_times(tmp_path / "r") if r["kind"] == "progress"]
    cheap_default = [[g for g in r["groups"] if g["group"] == 1][0]["best_fitness"]
                     for r in log_without_times(tmp_path / "d") if r["kind"] == "progress"]
    assert cheap != cheap_default


def test_a_groups_islands_restart_on_stagnation_and_the_log_counts_it(tmp_path):
    """A group's restart rule applies to its islands only, and the run repeats exactly (the
    kept best: tests/test_search_islands.py)."""
    text = GROUPS + "max_stagnation = 200\nstagnation_delta = 1.0\n"
    for out in ("a", "b"):
        evolve("-c", str(config(tmp_path, text)), "--out", str(tmp_path / out), "--workers", "1")
    log = log_without_times(tmp_path / "a")
    assert log == log_without_times(tmp_path / "b")
    rows = [r["groups"] for r in log if r["kind"] == "progress"]
    assert rows[-1][0]["restarts"] == 0 and rows[-1][1]["restarts"] >= 2
    # the attempt under way is shown beside the best kept across restarts, once one happened
    assert all("current_best" not in main and ("current_best" in cheap) == bool(cheap["restarts"])
               for main, cheap in rows)
    current = [(cheap["current_best"], cheap["best_fitness"]) for _, cheap in rows
               if cheap["restarts"]]
    assert all(now <= best for now, best in current) and any(now < best for now, best in current)


def test_a_groups_islands_backtrack_before_they_restart_and_the_log_counts_it(tmp_path):
    """With backtracks = 2 a stalled group island goes back to its latest hard step twice, then
    restarts; the rows count both, show the climb under way, and the run repeats exactly."""
    # the group island rises now and then (each rise a candidate step) over 4,000 individuals
    text = (GROUPS.replace("max_individuals = 1500", "max_individuals = 4000")
            .replace("interval = 200", "interval = 100")
            + "max_stagnation = 200\nstagnation_delta = 0.0001\nbacktracks = 2\n")
    for out in ("a", "b"):
        evolve("-c", str(config(tmp_path, text)), "--out", str(tmp_path / out), "--workers", "1")
    log = log_without_times(tmp_path / "a")
    assert log == log_without_times(tmp_path / "b")
    rows = [r["groups"] for r in log if r["kind"] == "progress"]
    assert max(c.get("backtracks", 0) for _, c in rows) >= 2
    assert max(c["restarts"] for _, c in rows) >= 1
    assert not any("backtracks" in main for main, _ in rows)  # it has no restart rule
    first = next(c for _, c in rows if c.get("backtracks"))
    assert first["restarts"] == 0 and "current_best" in first  # backtracks come first


def test_a_report_from_before_current_fitness_counts_its_best():
    """A checkpoint written before reports carried current_fitness resumes with reports
    without it: the row shows their best (kept or not), never -inf or a missing number."""
    from amzc.search.island_run import IslandSearch

    search = IslandSearch(parse_config(GROUPS), None, 2)
    assert search._group_row(1, [report(1, 0.7, restarts=2)])["current_best"] == 0.7
    assert search._group_row(1, [report(1, 0.7, restarts=2, current_fitness=0.4)]
                             )["current_best"] == 0.4


def test_a_group_of_several_islands_lists_each_islands_row():
    """A group's row sums its islands' individuals and restarts and keeps the best of their
    attempts; ``islands`` keeps each island's, so that one island's climbs (its restarts,
    backtracks and the best under way) can be told from another's."""
    from amzc.search.island_run import IslandSearch

    search = IslandSearch(parse_config(GROUPS), None, 3)
    search.busy = [1.5, 2.5, 9.0]
    row = search._group_row(0, [report(0, 0.5, restarts=1, current_fitness=0.3),
                                report(1, 0.6, backtracks=2)])
    assert (row["individuals"], row["restarts"], row["backtracks"], row["busy_s"]) == (
        200, 1, 2, 4.0)
    assert row["islands"] == [
        {"individuals": 100, "best_fitness": 0.5, "restarts": 1, "busy_s": 1.5,
         "current_best": 0.3},
        {"individuals": 100, "best_fitness": 0.6, "restarts": 0, "busy_s": 2.5,
         "backtracks": 2, "current_best": 0.6}]
    assert "islands" not in search._group_row(1, [report(2, 0.9)])
    # hold_above_arrivals' bar: each island's own, not the group's (islands hold apart)
    held = search._group_row(0, [report(0, 0.5, hold_level=0.27), report(1, 0.6)])
    assert "hold_level" not in held and held["islands"][0]["hold_level"] == 0.27
    assert "hold_level" not in held["islands"][1]
    assert search._group_row(1, [report(2, 0.9, hold_level=0.3)])["hold_level"] == 0.3
    ceiling = search._group_row(0, [report(0, 0.5, hold_level=0.27, release_level=0.31),
                                    report(1, 0.6)])
    assert ceiling["islands"][0]["release_level"] == 0.31
    assert "release_level" not in ceiling and "release_level" not in ceiling["islands"][1]


def test_a_group_on_the_experiments_own_tasks_is_a_main_one(tmp_path):
    """Only the tasks decide whether fitness compares: a group that changes the population
    alone counts among the main islands, and its migrants keep their fitness."""
    from amzc.search.island_run import IslandSearch

    text = GROUPS.replace("islands = 3", "islands = 4")
    cfg = load_config(config(tmp_path, text + "[[migration.groups]]\nislands = 1\n"
                                              "population = 20\n"))
    search = IslandSearch(cfg, LocalPool(1), 4)
    try:
        assert search.main == (0, 1, 3)
        assert search.tasks[3] == search.tasks[0] != search.tasks[2]
        assert [c.population_size for c in search.configs] == [30, 30, 12, 20]
    finally:
        search.close()


def test_an_island_run_resumes_on_islands_from_its_first_checkpoint(tmp_path):
    from amzc.search.island_run import is_island_run

    run = start_islands(load_config(config(tmp_path, GROUPS)), tmp_path / "r", LocalPool(1), 3)
    try:
        run._checkpoint()  # the state before any experiment: no population yet
    finally:
        run.search.close()
    assert run.state.population is None and is_island_run(tmp_path / "r")


def test_groups_need_an_island_on_the_experiments_own_tasks(tmp_path):
    cfg = config(tmp_path, GROUPS.replace("islands = 3", "islands = 1"))
    result = CliRunner().invoke(app, ["evolve", "-q", "-c", str(cfg), "--out",
                                      str(tmp_path / "r"), "--workers", "2"])
    assert result.exit_code == 2
    assert "[[migration.groups]] hold 1 island and the run has 1" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_worker_count_is_a_clear_error(tmp_path, value):
    result = CliRunner().invoke(app, ["evolve", "-q", "-c", str(config(tmp_path)), "--out",
                                      str(tmp_path / "r"), "--workers", value])
    assert result.exit_code == 2 and "--workers must be" in result.output
    assert not (tmp_path / "r").exists()


def test_workers_all_uses_every_core(tmp_path, monkeypatch):
    import amzc.api as api  # the library entry point makes the pool

    started = []

    class CountingPool(api.LocalPool):
        def __init__(self, workers):
            started.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(api, "LocalPool", CountingPool)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    evolve("-c", str(config(tmp_path)), "--out", str(tmp_path / "all"), "--workers", "all")
    assert started == [3]


@pytest.mark.parametrize("force, expected", [(False, 2), (True, 64)])
def test_more_workers_than_cores_are_capped_unless_forced(tmp_path, monkeypatch, caplog,
                                                          force, expected):
    import amzc.api as api

    started = []

    class NoPool:  # records the count and stops: the search itself is not the point
        def __init__(self, workers):
            started.append(workers)
            raise AmzConfigError("no pool in this test")

    monkeypatch.setattr(api, "LocalPool", NoPool)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    args = ["evolve", "-q", "-c", str(config(tmp_path)), "--out", str(tmp_path / "r"),
            "--workers", "64"] + (["--force-workers"] if force else [])
    with caplog.at_level(logging.WARNING, logger="amzc"):
        result = CliRunner().invoke(app, args)
    assert "no pool in this test" in result.output
    assert started == [expected]
    warned = "64 workers asked for, but this machine has 2 cores; using 2" in caplog.text
    assert warned != force


def test_ray_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    result = CliRunner().invoke(app, ["evolve", "-q", "-c", str(config(tmp_path)), "--out",
                                      str(tmp_path / "r"), "--ray", "auto"])
    assert result.exit_code == 2
    assert "pip install 'amzc[ray]'" in result.output and "Traceback" not in result.output


# -- Ray, against a real local cluster -----------------------------------------------------------

RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep Ray on the loopback interface
           "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray")
    env = {**os.environ, **RAY_ENV}
    port = free_port()
    start = subprocess.run(["ray", "start", "--head", "--node-ip-address=127.0.0.1",
                            f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                            "--disable-usage-stats"], env=env, capture_output=True, text=True,
                           timeout=180)
    assert start.returncode == 0, start.stdout + start.stderr
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True, timeout=120)


def run_on_ray(address: str, env: dict, cfg: Path, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([*AMZC, "evolve", "-q", "-c", str(cfg), "--out", str(folder),
                             "--workers", "2", "--ray", address], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_ray_islands_give_the_local_result(ray_cluster, tmp_path):
    address, env = ray_cluster
    cfg = config(tmp_path)
    evolve("-c", str(cfg), "--out", str(tmp_path / "local"), "--workers", "2")
    proc = run_on_ray(address, env, cfg, tmp_path / "ray")
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert log_without_times(tmp_path / "ray") == log_without_times(tmp_path / "local")


KILL_HOST_1 = """
import sys, ray
ray.init(address=sys.argv[1], namespace="amzc", log_to_driver=False)
names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
         if a["name"].endswith("-host-1")]
assert names, "no island host to kill"
ray.kill(ray.get_actor(names[0], namespace="amzc"), no_restart=True)
"""


def test_ray_run_survives_the_loss_of_a_worker(ray_cluster, tmp_path):
    address, env = ray_cluster
    cfg = config(tmp_path, LONGER.replace("checkpoint_every = 1000", "checkpoint_every = 500"))
    folder = tmp_path / "lossy"
    proc = run_on_ray(address, env, cfg, folder)
    deadline = time.time() + 180
    log = folder / "progress.jsonl"
    while time.time() < deadline and proc.poll() is None and not (
            log.exists() and log.read_text().count('"progress"') >= 8):
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before a worker could be killed"
    # A separate driver kills island host 1, as a crash or a lost node would.
    kill = subprocess.run([sys.executable, "-c", KILL_HOST_1, address], env=env,
                          capture_output=True, text=True, timeout=120)
    assert kill.returncode == 0, kill.stdout + kill.stderr
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    restarts = [r for r in read_log(log) if r["kind"] == "worker_restart"]
    assert restarts and restarts[0]["worker"] == 1 and restarts[0]["islands"] == [1]
    assert json.loads((folder / "result.json").read_text())["final_fitness"] > 0


NICENESS_OF_A_LOCAL_WORKER = """
import os
from amzc.search.ray_pool import connect
ray = connect("local", 1)
print("niceness", ray.get(ray.remote(lambda: os.nice(0)).remote()))
ray.shutdown()
"""


def test_ray_local_runs_the_islands_at_normal_priority(ray_cluster):
    """Ray starts workers at nice 15; on `--ray local` the islands are the work, and at nice
    15 the coordinator and every daemon preempt them (0.87x local throughput before). With a
    cluster already running on the machine, `--ray local` still starts its own instance."""
    out = subprocess.run([sys.executable, "-c", NICENESS_OF_A_LOCAL_WORKER],
                         env={**os.environ, **RAY_ENV}, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"niceness {os.nice(0)}" in out.stdout


def test_the_old_names_of_island_runs_still_work():
    from amzc.search.island_run import IslandRun, resume_islands

    assert (IslandRun.start_islands, IslandRun.resume_islands) == (start_islands, resume_islands)


def test_fresh_tasks_islands_of_one_group_exchange_migrants_as_other_tasks(tmp_path,
                                                                           monkeypatch):
    """fresh_tasks: a group island draws new tasks at each restart, and its siblings other
    ones; a migrant measured on another draw arrives without its fitness (evaluated again),
    one from the same draw keeps it. The run repeats exactly."""
    import amzc.search.island_run as island_run

    calls = []
    real = island_run.sample_arrivals

    def recording(rng, emigrants, counts, groups=None, origins=None, sources=None):
        arrivals = real(rng, emigrants, counts, groups, origins, sources)
        calls.append((groups, origins, emigrants, arrivals))
        return arrivals

    monkeypatch.setattr(island_run, "sample_arrivals", recording)
    text = (GROUPS.replace("islands = 3", "islands = 4").replace("islands = 1\nkind",
                                                               "islands = 2\nkind")
            + "max_stagnation = 200\nstagnation_delta = 1.0\nfresh_tasks = true\n")
    for out in ("a", "b"):
        evolve("-c", str(config(tmp_path, text)), "--out", str(tmp_path / out), "--workers",
               "2")
    assert log_without_times(tmp_path / "a") == log_without_times(tmp_path / "b")
    drawn = [(origins[2], origins[3]) for _, origins, _, _ in calls if origins]
    assert any(a[1] is not None for a, _ in drawn)  # restarted onto new draws
    assert all(a[0] == b[0] for a, b in drawn)  # one group: the same home tasks
    kept = again = 0
    for groups, origins, emigrants, arrivals in calls:
        source = [origins[i] for i, group in enumerate(emigrants) for _ in group]
        pool = [m for group in emigrants for m in group]
        for island in (2, 3):
            for program, fitness in arrivals[island]:
                keys = {source[k] for k, m in enumerate(pool) if m[0] is program}
                if fitness is not None:
                    assert groups[island] in keys
                    kept += 1
                else:
                    assert keys != {groups[island]}
                    again += keys <= {origins[2], origins[3]}  # from the group, another draw
    assert kept and again


def test_groups_that_wait_for_the_others_rounds_get_an_interval_that_matches_them(caplog):
    """An island group that spends much less time in its rounds than the busiest group
    idles (pipelined rounds wait for the slowest island): the run's end says so, with the
    interval that would make the rounds last about as long."""
    from types import SimpleNamespace

    from amzc.search.island_run import IDLE_MIN_BUSY_S, IslandSearch

    cfg = parse_config(GROUPS)  # islands 0-1 main (interval 50), 2 the group (200)
    search = IslandSearch(cfg, SimpleNamespace(workers=3), island_count=3)  # type: ignore
    search.busy = [60.0, 62.0, 100.0]
    (message,) = search.idle_warnings()
    assert "experiment's own tasks" in message and "61%" in message
    assert "interval = 82 in [migration] (now 50)" in message  # 50 / 0.61
    assert "to keep theirs" not in message  # the group has an interval of its own
    search.busy = [100.0, 100.0, 40.0]
    (message,) = search.idle_warnings()
    assert "island group 1" in message
    assert "interval = 500 in the [[migration.groups]] table 1 (now 200)" in message
    search.busy = [90.0, 90.0, 100.0]
    assert search.idle_warnings() == []  # within 20 %
    search.busy = [1.0, 1.0, IDLE_MIN_BUSY_S / 2]
    assert search.idle_warnings() == []  # too short to tell
    search.busy = [60.0, 62.0, 100.0]
    search.promoted = {2}  # a promoted island runs with the main islands' interval
    assert search.idle_warnings() == []
    search.promoted = set()
    with caplog.at_level(logging.WARNING, logger="amzc.search"):
        search.end()
    assert "cores idled 39% of the time" in caplog.text
    # islands sharing a worker run one after the other: one's wait is another's work
    shared = IslandSearch(cfg, SimpleNamespace(workers=2), island_count=3)  # type: ignore
    shared.busy = [60.0, 62.0, 100.0]
    assert shared.idle_warnings() == []
    # a group without an interval of its own takes [migration]'s: raising that alone
    # would raise both
    inherits = parse_config(GROUPS.replace("interval = 200\n", ""))
    search = IslandSearch(inherits, SimpleNamespace(workers=3), island_count=3)  # type: ignore
    search.busy = [60.0, 62.0, 100.0]
    (message,) = search.idle_warnings()
    assert "interval = 82 in [migration] (now 50), with interval = 50 set in the " \
        "[[migration.groups]] table 1 to keep theirs" in message


def test_the_time_in_rounds_survives_a_checkpoint_and_older_checkpoints_start_at_zero():
    """``busy`` is saved with the islands' state and restored on resume (the logs that
    resumed runs are compared on leave it out, as a timing); a checkpoint from before the
    field resumes with zeros."""
    from types import SimpleNamespace

    from amzc.search.experiment import RunState
    from amzc.search.island_run import IslandSearch

    cfg = parse_config(GROUPS)

    class Pool(SimpleNamespace):
        workers = 3

        def drop_all(self):
            pass

        def create_all(self, items):
            pass

        def call_all(self, method, args):
            return [{"island": i} for i in range(len(args))]

    search = IslandSearch(cfg, Pool(), island_count=3)
    state = RunState(seed=1, rng_state=None, experiment=1,
                     search_spec=cfg.search_tasks.spec)
    search.start(state)
    search.busy = [1.5, 2.5, 4.0]
    search.save(state)
    assert state.strategy["busy"] == [1.5, 2.5, 4.0]
    search.busy[0] = 9.0  # the saved state is a copy
    resumed = IslandSearch(cfg, Pool(), island_count=3)
    resumed.start(state)
    assert resumed.busy == [1.5, 2.5, 4.0]
    del state.strategy["busy"]
    older = IslandSearch(cfg, Pool(), island_count=3)
    older.start(state)
    assert older.busy == [0.0, 0.0, 0.0]
