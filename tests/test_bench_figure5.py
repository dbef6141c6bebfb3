"""bench/figure5.py: a short run of configs/figure5.toml end to end, through amzc.evolve in a
child process, its curve on the final tasks, the JSON and the plot."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import load_bench

figure5 = load_bench("figure5")


def test_a_short_run_of_the_config_end_to_end(tmp_path):
    out = tmp_path / "f5.json"
    # seconds, not hours: a small population and few selection and final tasks
    assert figure5.main(["--seeds", "1", "--minutes", "0.02", "--out", str(out),
                         "--keep-runs", str(tmp_path / "runs"),
                         "--set", "population.size=50", "--set", "tasks.select.num_tasks=3",
                         "--set", "tasks.final.num_tasks=3"]) == 0
    data = json.loads(out.read_text())
    (run,) = data["runs"]
    pick = run["select_bests_pick"]  # the config as run, rebuilt: its T_select checks out
    assert pick is not None and 0.0 <= pick["final_fitness"] <= 1.0
    assert run["lever"] == "figure5" and run["individuals"] >= 50  # the config as shipped
    assert run["cpu_s"] > 0 and run["curve"], "a best is logged at least once"
    assert all(0.0 <= p["final_fitness"] <= 1.0 for p in run["curve"])
    (row,) = data["levers"]
    assert set(row["seeds_reaching"]) == {"M1", "M2"}
    folder = tmp_path / "runs" / "figure5_seed1"
    assert (folder / "result.json").is_file()
    # both islands ran, the teacher island and the linear one, and the JSON says how much each
    groups = run["groups_at_end"]
    assert len(groups) == 2 and all(g["individuals"] > 0 for g in groups)
    (first, *_) = run["climbs"]["climbs"]  # and the teacher island's climbs, from the log
    assert first["began"] == "start" and first["individuals"] > 0
    assert data["config_source"] == figure5.CONFIG.read_text(encoding="utf-8")
    assert "revision" in data
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_the_select_bests_pick_is_what_a_run_with_select_bests_returns(tmp_path):
    """select_bests_pick re-scores a finished run's logged bests on its T_select: the same
    result as running with run.select_bests = true (which leaves the search's path alone)."""
    import amzc
    from amzc.search.progress import read_log

    small = {**figure5.TASKS_20,  # select_bests off: "plain" returns its own pick
             "migration.islands": 0, "migration.groups": [], "population.size": 50,
             "tasks.search.num_tasks": 2, "tasks.search.num_train": 100,
             "tasks.select.num_tasks": 3, "tasks.final.num_tasks": 3,
             "stop.max_individuals": 4000, "stop.max_time_s": 0, "run.progress_every": 200,
             "run.checkpoint_every": 0,
             # relative to configs/, as the diagnostic climbs give it: the config as the run
             # loaded it, not as its run folder holds it (where this path would not resolve)
             "population.init": ["../bench/figure5_start/rung1.amz"]}
    plain = amzc.evolve(figure5.CONFIG, seed=2, out=tmp_path / "plain", overrides=small)
    chosen = amzc.evolve(figure5.CONFIG, seed=2, out=tmp_path / "chosen",
                         overrides={**small, "run.select_bests": True})
    from amzc.search.config import load_config

    log = read_log(tmp_path / "plain" / "progress.jsonl")
    pick = figure5.select_bests_pick(load_config(figure5.CONFIG, seed=2, overrides=small), log, 2)
    assert pick is not None and sum(r["kind"] == "best" for r in log) > 1
    assert pick["final_fitness"] == chosen.final_fitness
    # on this seed a logged best beats the population's last best on T_select
    assert not pick["is_run_pick"] and chosen.final_fitness != plain.final_fitness
    other = load_config(figure5.CONFIG, seed=3, overrides=small)
    assert figure5.select_bests_pick(other, log, 3) is None  # not the run's seed


def test_every_lever_is_a_valid_setting_of_the_config():
    from amzc.search.config import group_config, load_config
    from amzc.search.island_run import island_groups

    assert figure5.LEVERS["figure5"] == ({}, 2)  # the shipped config
    now = load_config(figure5.CONFIG)
    # as shipped in sessions 23-29 (figure5_5k): the tuned lever, with run.select_bests
    shipped = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_5k"][0])
    tuned = load_config(figure5.CONFIG,
                        overrides=figure5.LEVERS["scaled_sends_pop_100_tasks_40"][0])
    assert not tuned.select_bests and shipped.select_bests
    assert replace(tuned, select_bests=True) == shipped
    # the levers of figure5_5k change only what they name; the one with the teacher
    # island's rounds at 10,000 is the config shipped now
    rounds = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_rounds_10k"][0])
    assert rounds.migration.interval == 10000 and shipped.migration.interval == 5000
    assert replace(rounds, migration=shipped.migration) == shipped
    assert rounds == now
    # every lever but the shipped config names the teacher rounds it was measured with, so
    # that a change to the shipped config does not change it
    assert all("migration.interval" in overrides
               for name, (overrides, _) in figure5.LEVERS.items() if name != "figure5")
    average = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_average"][0])
    assert average.fec.average and not shipped.fec.average
    assert replace(average, fec=shipped.fec) == shipped
    teachers = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_teachers_3"][0])
    assert teachers.migration.islands == 4 and not teachers.migration.main_exchange
    assert teachers.migration.groups == (replace(shipped.migration.groups[0], interval=10000),)
    assert replace(teachers, migration=shipped.migration) == shipped
    again = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_restarts"][0])
    assert (again.migration.max_stagnation, again.migration.stagnation_delta,
            again.migration.restart_below, again.migration.main_exchange) == (
        2_000_000, 0.01, 0.35, False)
    assert replace(again.migration, max_stagnation=0, stagnation_delta=0.001,
                   restart_below=1.0, main_exchange=True) == shipped.migration
    assert replace(again, migration=shipped.migration) == shipped
    shorter = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_restarts_1m"][0])
    assert shorter.migration == replace(again.migration, max_stagnation=1_000_000)
    assert replace(shorter, migration=again.migration) == again
    balanced = load_config(figure5.CONFIG,
                           overrides=figure5.LEVERS["figure5_restarts_1m_10k"][0])
    assert balanced.migration == replace(shorter.migration, interval=10000)
    assert replace(balanced, migration=shorter.migration) == shorter
    local = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_restarts_local"][0])
    mix = (("alter_param", 1.0), ("randomize_instruction", 1.0),
           ("randomize_component_function", 0.2))
    assert local.mutation == replace(balanced.mutation, types=mix)
    assert replace(local, mutation=balanced.mutation) == balanced
    teacher = load_config(figure5.CONFIG,
                          overrides=figure5.LEVERS["figure5_restarts_local_teacher"][0])
    assert teacher.migration.groups == tuple(
        replace(g, mutation_types=shipped.mutation.types) for g in local.migration.groups)
    assert replace(teacher, migration=local.migration) == local
    back = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_backtrack"][0])
    assert back.migration == replace(balanced.migration, max_stagnation=500_000, backtracks=8,
                                     groups=back.migration.groups)
    assert back.migration.groups == tuple(replace(g, backtracks=0)
                                          for g in balanced.migration.groups)
    assert replace(back, migration=balanced.migration) == balanced
    frozen = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_frozen"][0])
    assert frozen.migration.groups == tuple(replace(g, freezes_when_sending=True)
                                            for g in balanced.migration.groups)
    assert replace(frozen, migration=balanced.migration) == balanced
    frozen_2 = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_frozen_2"][0])
    assert frozen_2.migration == replace(frozen.migration, islands=3)
    assert replace(frozen_2, migration=frozen.migration) == frozen
    frozen_500k = load_config(figure5.CONFIG,
                              overrides=figure5.LEVERS["figure5_frozen_2_500k"][0])
    assert frozen_500k == replace(frozen_2, migration=replace(frozen_2.migration,
                                                              max_stagnation=500_000))
    hold = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_frozen_2_hold"][0])
    assert hold == replace(frozen_2, migration=replace(frozen_2.migration,
                                                       restart_below=0.275))
    # the teacher islands hold a climb past rung 2; the linear island keeps its own rule (it
    # restarts until it has solved its tasks), as the islands resolve them
    (linear,) = hold.migration.groups
    assert group_config(hold, None).migration.restart_below == 0.275
    assert group_config(hold, linear).migration.restart_below == 0.75
    rise = load_config(figure5.CONFIG, overrides=figure5.LEVERS["figure5_frozen_2_rise"][0])
    assert rise == replace(frozen_2, migration=replace(frozen_2.migration,
                                                       hold_above_arrivals=0.033))
    assert group_config(rise, None).migration.hold_above_arrivals == 0.033
    release = load_config(figure5.CONFIG,
                          overrides=figure5.LEVERS["figure5_frozen_2_release"][0])
    assert release == replace(rise, migration=replace(rise.migration,
                                                      release_above_arrivals=0.07))
    # the teacher islands' ceiling; the linear island takes no migrants, so none
    assert group_config(release, None).migration.release_above_arrivals == 0.07
    ceiling = load_config(figure5.CONFIG,
                          overrides=figure5.LEVERS["figure5_frozen_2_rise_ceiling"][0])
    assert ceiling == replace(rise, migration=replace(rise.migration, release_after_rise=0.03))
    restarts = load_config(figure5.CONFIG,
                           overrides=figure5.LEVERS["figure5_teachers_3_restarts"][0])
    assert (restarts.migration.max_stagnation, restarts.migration.stagnation_delta,
            restarts.migration.restart_below) == (1_000_000, 0.01, 0.35)
    assert replace(restarts.migration, max_stagnation=0, stagnation_delta=0.001,
                   restart_below=1.0) == teachers.migration
    assert replace(restarts, migration=teachers.migration) == teachers
    # every older lever was measured as overrides of tasks_20, the config until session 23
    old = load_config(Path(__file__).parent / "configs" / "figure5_tasks_20.toml")
    tasks_20 = load_config(figure5.CONFIG, overrides=figure5.LEVERS["tasks_20"][0])
    assert tasks_20 == old
    # the linear-island variants change only what they name
    assert load_config(figure5.CONFIG, overrides={
        **figure5.TASKS_20, "migration.groups": [figure5.LINEAR_20]}).migration.groups == (
        old.migration.groups)
    baseline = load_config(figure5.CONFIG, overrides=figure5.LEVERS["baseline"][0])
    assert baseline.migration.islands == 0 and not baseline.migration.groups
    assert baseline.search_tasks.spec.num_tasks == 5  # the paper's one-process setting
    for name, (overrides, workers) in figure5.LEVERS.items():
        cfg = load_config(figure5.CONFIG, overrides=overrides)
        assert cfg.search_space == load_config(figure5.CONFIG).search_space, name
        islands = cfg.migration.islands or workers or 1
        groups = island_groups(cfg, islands)  # refuses groups that leave no main island
        assert len(groups) == islands and groups[0] is None, name


def test_merge_joins_runs_of_one_seed_each(tmp_path):
    """--merge: runs made one seed at a time become one result, the rows recomputed."""
    def run(seed: int, lever: str, best: float) -> dict:
        return {"lever": lever, "seed": seed, "final_fitness": best - 0.01, "cpu_s": 100.0,
                "wall_s": 50.0, "individuals": 1000, "individuals_per_cpu_s": 10.0 * seed,
                "groups_at_end": None,
                "curve": [{"cpu_s": 10.0, "individuals": 100, "search_fitness": 0.2,
                           "final_fitness": 0.2},
                          {"cpu_s": 40.0 * seed, "individuals": 400, "search_fitness": 0.3,
                           "final_fitness": best}]}

    paths = []
    for seed, best in ((1, 0.31), (2, 0.25), (3, 0.46)):
        path = tmp_path / f"seed{seed}.json"
        path.write_text(json.dumps({"config": "configs/figure5.toml", "revision": "abc",
                                    "overrides": {}, "minutes": 30, "seeds": [seed],
                                    "runs": [run(seed, "promote", best)]}))
        paths.append(path)
    out = tmp_path / "merged.json"
    assert figure5.main(["--merge", *map(str, paths), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["seed"] for r in data["runs"]] == [1, 2, 3] and data["minutes"] == 30
    (row,) = data["levers"]
    assert row["lever"] == "promote" and row["overrides"] == figure5.LEVERS["promote"][0]
    assert row["best_final_fitness"] == [0.31, 0.25, 0.46]
    assert row["median_best_final_fitness"] == 0.31
    assert row["seeds_reaching"] == {"M1": 2, "M2": 1}
    assert row["first_cpu_s"] == {"M1": [40.0, None, 120.0], "M2": [None, None, 120.0]}
    assert [m["file"] for m in data["merged_from"]] == ["seed1.json", "seed2.json", "seed3.json"]
    assert out.with_suffix(".png").stat().st_size > 10_000
    # a seed added to a merged result: each run's input keeps its own revision
    paths[0].write_text(paths[0].read_text().replace('"abc"', '"def"').replace(
        '"seeds": [1]', '"seeds": [4]').replace('"seed": 1', '"seed": 4'))
    again = tmp_path / "again.json"
    assert figure5.main(["--merge", str(out), str(paths[0]), "--out", str(again)]) == 0
    data = json.loads(again.read_text())
    assert [r["seed"] for r in data["runs"]] == [1, 2, 3, 4]
    assert [(m["file"], m["revision"], m["seeds"]) for m in data["merged_from"]] == [
        ("seed1.json", "abc", [1]), ("seed2.json", "abc", [2]), ("seed3.json", "abc", [3]),
        ("seed1.json", "def", [4])]
    assert not any("config_source" in m for m in data["merged_from"])
    # an input run with another config text keeps it: a lever is overrides of the config
    # as it stood
    paths[1].write_text(json.dumps({**json.loads(paths[1].read_text()),
                                    "config_source": "[migration]\ninterval = 10000\n"}))
    assert figure5.main(["--merge", str(paths[0]), str(paths[1]), "--out", str(again)]) == 0
    first, second = json.loads(again.read_text())["merged_from"]
    assert "config_source" not in first and second["config_source"].endswith("10000\n")
    # runs of other budgets: the merged result (and its plot's title) names each budget
    paths[2].write_text(json.dumps({**json.loads(paths[2].read_text()), "minutes": 120}))
    assert figure5.main(["--merge", str(out), str(paths[2]), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["minutes"] == "30/120"
    assert figure5.main(["--merge", str(again), str(paths[1]), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["minutes"] == "30/120"
    with pytest.raises(SystemExit):
        figure5.main(["--merge", str(tmp_path / "missing.json"), "--out", str(out)])


@pytest.mark.parametrize(("inits", "start", "levers"), [
    ([None, None], "random programs", ["baseline"]),
    ([["a.amz"], ["a.amz"]], "population.init = ['a.amz']", ["baseline from a"]),
    ([["../x/a.amz"], ["b.amz"]], figure5.MIXED_STARTS, ["baseline from a", "baseline from b"]),
    ([None, ["b.amz"]], figure5.MIXED_STARTS, ["baseline", "baseline from b"]),
])
def test_merge_says_where_the_runs_started(tmp_path, monkeypatch, inits, start, levers):
    """A merged plot of diagnostic starts is not titled 'from random programs', and runs
    from different starts under one lever stay apart (a row and a curve each)."""
    seen = []
    monkeypatch.setattr(figure5, "plot", lambda runs, path, minutes, s: seen.append(s))
    paths = []
    for i, init in enumerate(inits):
        path = tmp_path / f"part{i}.json"
        overrides = {} if init is None else {"population.init": init}
        path.write_text(json.dumps({
            "config": "configs/figure5.toml", "overrides": overrides, "minutes": 20,
            "seeds": [1], "runs": [{"lever": "baseline", "seed": 1, "final_fitness": 0.3,
                                    "cpu_s": 10.0, "wall_s": 10.0, "individuals": 10,
                                    "individuals_per_cpu_s": 1.0, "groups_at_end": None,
                                    "curve": []}]}))
        paths.append(path)
    merged = tmp_path / "m.json"
    assert figure5.main(["--merge", *map(str, paths), "--out", str(merged)]) == 0
    assert seen == [start]
    assert [row["lever"] for row in json.loads(merged.read_text())["levers"]] == levers
    # a merged result merged again keeps its start
    again = tmp_path / "again.json"
    assert figure5.main(["--merge", str(merged), "--out", str(again)]) == 0
    assert seen[-1] == start


def test_climbs_reads_the_teacher_islands_restarts_from_the_progress_log(tmp_path, capsys):
    """--climbs: one row per start of the teacher island (group 0) from random programs or
    from a backtrack, with its individuals and its peak search fitness; the kept best (which
    a restart does not reset) must not stand in for a later climb's peak. A run folder or
    its progress.jsonl, also while the run writes it."""
    def progress(elapsed, individuals, best, restarts=0, current=None, backtracks=0,
                 sending=0):
        teacher = {"group": 0, "individuals": individuals, "best_fitness": best,
                   "restarts": restarts, "busy_s": elapsed * 0.9}
        if current is not None:
            teacher["current_best"] = current
        if backtracks:
            teacher["backtracks"] = backtracks
        linear = {"group": 1, "individuals": 2 * individuals, "best_fitness": 0.8,
                  "restarts": 0, "busy_s": elapsed, "sending": sending}
        return {"kind": "progress", "elapsed_s": elapsed, "groups": [teacher, linear]}

    log = [{"kind": "experiment_start"},
           progress(10, 100, 0.18), progress(20, 200, 0.27, sending=1),
           progress(30, 300, 0.27, restarts=1, current=0.19),
           progress(40, 400, 0.27, restarts=1, current=0.22),
           progress(50, 500, 0.31, restarts=1, current=0.31, backtracks=1),
           {"kind": "best", "elapsed_s": 55, "fitness": 0.31, "program": ""},
           progress(60, 650, 0.31, restarts=2, current=0.20, backtracks=1)]
    found = figure5.climbs(log)
    assert found["first_sent_s"] == 20 and found["teacher_busy"] == pytest.approx(0.9)
    assert [(c["began"], c["start_s"], c["end_s"], c["individuals"],
             c["peak_search_fitness"]) for c in found["climbs"]] == [
        ("start", 0, 20, 200, 0.27), ("restart", 20, 40, 200, 0.22),
        ("backtrack", 40, 50, 100, 0.31), ("restart", 50, 60, 150, 0.20)]
    # how far each climb got (RUNGS' levels: rung 2 0.275, 2b 0.295, across 0.35), counted
    # in the island's individuals into the climb when it first stood there; a backtrack
    # begins at its hard step (0.31 here), so only levels above that are its own
    assert [c["reached"] for c in found["climbs"]] == [{}, {}, {}, {}]
    rising = [progress(10, 100, 0.20), progress(20, 200, 0.28, current=0.28),
              progress(30, 300, 0.30, current=0.30), progress(40, 400, 0.30, current=0.29),
              progress(50, 500, 0.30, current=0.30, backtracks=1),
              progress(60, 600, 0.36, current=0.36, backtracks=1)]
    assert [(c["began"], c["reached"]) for c in figure5.climbs(rising)["climbs"]] == [
        ("start", {"rung 2": 200, "2b": 300}), ("backtrack", {"across": 200})]
    assert figure5.climbs([{"kind": "progress", "elapsed_s": 1, "individuals": 5}]) is None
    # a log of two experiments: the last one's climbs, counted from its own start
    again = [{**r, "experiment": 2} for r in log[1:3]]
    found = figure5.climbs([{**r, "experiment": 1} for r in log] + again)
    assert [(c["began"], c["individuals"]) for c in found["climbs"]] == [("start", 200)]
    # two teacher islands: each island's row gives its own climbs (island 1 never
    # restarts); busy is per island
    def pair(record):
        mine = record["groups"][0]
        other = {"individuals": record["elapsed_s"], "best_fitness": 0.25, "restarts": 0,
                 "busy_s": record["elapsed_s"] * 0.5}
        group = {**mine, "individuals": mine["individuals"] + other["individuals"],
                 "busy_s": mine["busy_s"] + other["busy_s"], "islands": [mine, other]}
        return {**record, "groups": [group, record["groups"][1]]}

    two = [pair(r) for r in log if r["kind"] == "progress"]
    found = figure5.climbs(two)
    assert found["teacher_islands"] == 2 and found["teacher_busy"] == pytest.approx(0.7)
    assert [(c["island"], c["began"], c["start_s"], c["individuals"],
             c["peak_search_fitness"]) for c in found["climbs"]] == [
        (0, "start", 0, 200, 0.27), (1, "start", 0, 60, 0.25), (0, "restart", 20, 200, 0.22),
        (0, "backtrack", 40, 100, 0.31), (0, "restart", 50, 150, 0.20)]
    table = figure5.climbs_table(found)
    assert "island" in table.splitlines()[2] and table.count("restart") == 2
    assert "hold_levels" not in found and "holds from" not in table
    # hold_above_arrivals' bars, as the last record logs them
    two[-1]["groups"][0]["islands"][0]["hold_level"] = 0.2686
    found = figure5.climbs(two)
    assert found["hold_levels"] == [0.2686, None]
    assert figure5.climbs_table(found).endswith(
        "holds from (best arrival + hold_above_arrivals): island 0 0.2686, island 1 -")
    two[-1]["groups"][0]["islands"][1]["release_level"] = 0.3086
    found = figure5.climbs(two)
    assert found["release_levels"] == [None, 0.3086]
    assert figure5.climbs_table(found).endswith(
        "holds from (best arrival + hold_above_arrivals): island 0 0.2686, island 1 -\n"
        "restarts again from (the lower of best arrival + release_above_arrivals, level "
        "first held + release_after_rise): island 0 -, "
        "island 1 0.3086")
    # a log from before the islands' own rows (only their bests): no climbs
    old = [{**r, "groups": [{**r["groups"][0], "island_bests": [0.2, 0.2]},
                            r["groups"][1]]} for r in log if r["kind"] == "progress"]
    found = figure5.climbs(old)
    assert found["climbs"] is None and found["teacher_islands"] == 2
    assert "2 teacher islands" in figure5.climbs_table(found)

    path = tmp_path / "progress.jsonl"  # a run under way: its last line cut short
    text = "\n".join(json.dumps(r) for r in log)
    path.write_text(text + '\n{"kind": "progr')
    assert figure5.main(["--climbs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "first sent at 20 s" in out and "busy 90%" in out
    assert out.count("restart") == 2 and "backtrack" in out and "0.3100" in out
    assert "4 climbs; reached rung 2: 0, 2b: 0, across: 0" in out
    assert figure5.main(["--climbs", str(tmp_path)]) == 0  # the run folder itself
    assert capsys.readouterr().out.count("restart") == 2
    with pytest.raises(SystemExit):
        figure5.main(["--climbs", str(tmp_path / "missing")])


def test_the_curve_scores_each_best_as_the_run_scores_its_result():
    """A logged best's point on the curve is the fitness the run would return for it: with
    random draws in Setup (as Figure 5's programs have), the run's own final key decides
    them, so runs of different seeds score the same program apart, and as their results."""
    from amzc import parse
    from amzc.rng import derive_key
    from amzc.search.config import load_config
    from amzc.search.evaluation import load_backend
    from amzc.search.experiment import FINAL_SEED, _evaluate_raw
    from amzc.tasks import build_tasks

    cfg = load_config(figure5.CONFIG, overrides={"tasks.final.num_tasks": 3})
    tasks = build_tasks(cfg.final_tasks.spec)
    text = ("def Setup():\n  v1 = gaussian(0.0, 0.5)\ndef Predict():\n  s1 = dot(v0, v1)\n"
            "def Learn():\n  s3 = s0 - s1\n")
    log = [{"kind": "best", "elapsed_s": 2.0, "individuals": 10, "fitness": 0.2,
            "program": text}]
    scores = {}
    for seed in (1, 2):
        (point,) = figure5.curve(log, 0.5, tasks, cfg, seed)
        scores[seed] = point["final_fitness"]
        # how the run of that seed scores its result (Experiment._finish)
        final, _ = _evaluate_raw(parse(text), tasks, cfg.search_space.memory,
                                 load_backend(cfg.backend), derive_key(seed, 0, FINAL_SEED),
                                 cfg.max_abs_error)
        assert scores[seed] == final
        assert point["cpu_s"] == 1.0 and point["individuals"] == 10
    assert scores[1] != scores[2]
