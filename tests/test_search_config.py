"""Experiment files: the shipped configs load, bad ones fail with one clear message."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from amzc.errors import AmzConfigError
from amzc.ops import lookup
from amzc.search.config import load_config, parse_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

MINIMAL = """
[ops]
learn = ["scalar_diff"]
[stop]
max_individuals = 10
"""


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    config = load_config(path)
    assert config.source == path.read_text(encoding="utf-8")


def test_demo_matches_the_reference_settings():
    c = load_config(CONFIGS / "demo.toml", seed=7)
    assert c.seed == 7
    assert (c.search_space.memory.scalars, c.search_space.memory.vectors,
            c.search_space.memory.matrices) == (4, 3, 1)
    demo_ops = [lookup(i) for i in (56, 27, 2, 3, 18, 23)]
    for component in ("setup", "predict", "learn"):
        assert sorted(op.id for op in c.search_space.components[component].ops) == \
            sorted(op.id for op in demo_ops)
    sizes = [c.search_space.components[x].init_size for x in ("setup", "predict", "learn")]
    assert sizes == [10, 2, 8]
    assert (c.population_size, c.tournament_size, c.initial_population) == (1000, 10, "random")
    assert dict(c.mutation.types) == {"alter_param": 1.0, "randomize_instruction": 1.0,
                                      "randomize_component_function": 1.0}
    assert c.mutation.mutate_prob == 0.9
    assert (c.fec.enabled, c.fec.num_train, c.fec.num_valid) == (True, 10, 10)
    s, sel, fin = c.search_tasks.spec, c.select_tasks.spec, c.final_tasks.spec
    assert (s.features, s.num_train, s.num_valid, s.num_tasks) == (4, 100, 100, 10)
    assert (sel.num_train, sel.num_tasks, c.select_tasks.randomize) == (1000, 100, True)
    assert (fin.num_tasks, fin.param_seeds, fin.data_seeds) == (100, (2000000,), (1000000,))
    assert c.sufficient_fitness == 0.9999 and c.max_experiments == 0
    assert not c.hurdles.enabled
    assert not c.fec.memo  # children run as written (the same search, faster here)


def test_defaults_fill_a_minimal_file():
    c = parse_config(MINIMAL)
    assert c.search_space.mutable() == ("learn",)
    assert c.select_tasks.spec == c.search_tasks.spec
    assert c.stop.max_individuals == 10
    assert c.fec.memo


@pytest.mark.parametrize("text, message", [
    ("[run]\nsead = 3\n", "unknown key 'run.sead'; did you mean 'seed'?"),
    ("[bogus]\nx = 1\n", "unknown key 'bogus'"),
    ("[population]\nsize = 0\n", "population.size: must be ≥ 1"),
    ("[population]\nsize = true\n", "expected an integer, got a boolean"),
    ("[run]\nstrategy = \"annealing\"\n", "must be one of evolution, random"),
    ("[mutation]\nmutate_prob = 1.5\n", "mutate_prob: must be in [0.0, 1.0]"),
    ("[mutation]\ntypes = [\"alter_params\"]\n", "did you mean 'alter_param'?"),
    ("[tasks.search]\nkind = \"quadratic\"\n", "must be one of"),
    ("[tasks.select]\nfeatures = 8\n", "differs from tasks.search.features"),
    ("[tasks.final]\nrandomize = true\n", "final tasks are never re-seeded"),
    ("[sizes.learn]\ninit = 5\nmax = 3\n", "need min ≤ init ≤ max"),
    ("[sizes.learn]\ninit = -1\n", "sizes.learn.init: must be ≥ 0, got -1"),
    ("[sizes.learn]\nmax = -2\n", "sizes.learn.max: must be ≥ 0, got -2"),
    ("[memory]\nvectors = 1\n", "v0 is the only vector"),
    ("[memory]\nmatrices = 0\n", "the memory has no matrices"),
    ("[population]\ninit = [\"nowhere.amz\"]\n", "no such file"),
    ("[run]\nbaselines = [\"nowhere.amz\"]\n", "run.baselines: "),
    ("[run]\nbaselines = [1]\n", "list of .amz file paths"),
    ("[run]\nbaselines = \"x.amz\"\n", "run.baselines"),
    ("[fec]\nmemo = \"no\"\n", "fec.memo: expected true or false"),
])
def test_bad_configs_say_what_is_wrong(text, message):
    base = MINIMAL.replace('learn = ["scalar_diff"]',
                           'learn = ["scalar_diff", "scalar_vector_product", "matrix_sum"]')
    if "[ops]" not in text:
        text = base + text
    with pytest.raises(AmzConfigError) as info:
        parse_config(text, "bad.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.toml")


def test_unknown_op_suggests_names():
    with pytest.raises(AmzConfigError, match="did you mean scalar_sum"):
        parse_config('[ops]\nlearn = ["scalar_summ"]\n[stop]\nmax_individuals = 1\n')


def test_a_run_needs_a_limit():
    with pytest.raises(AmzConfigError, match="never end"):
        parse_config('[ops]\nlearn = ["scalar_diff"]\n')


def test_not_toml():
    with pytest.raises(AmzConfigError, match="not valid TOML"):
        parse_config("[run\n")


def test_mutation_weights_as_table_and_repeats():
    c = parse_config(MINIMAL + '[mutation]\ntypes = { insert = 1, remove = 2 }\n')
    assert dict(c.mutation.types) == {"insert": 1.0, "remove": 2.0}
    c = parse_config(MINIMAL + '[mutation]\ntypes = ["insert", "remove", "remove"]\n')
    assert dict(c.mutation.types) == {"insert": 1.0, "remove": 2.0}


def test_a_baseline_must_fit_the_memory(tmp_path):
    (tmp_path / "big.amz").write_text("def Predict():\n  s9 = s1 + s1\n")
    with pytest.raises(AmzConfigError, match=r"run.baselines: .*s9"):
        parse_config(MINIMAL.replace("[stop]", '[run]\nbaselines = ["big.amz"]\n[stop]'),
                     "bad.toml", base_dir=tmp_path)


def test_every_default_is_the_dataclass_default():
    """The reader has no defaults of its own: an empty section reads as the class's."""
    from amzc.search.config import (
        ExperimentConfig,
        FecConfig,
        HurdleConfig,
        MigrationConfig,
        MutationConfig,
        StopConfig,
    )
    from amzc.syntax import MemoryConfig

    c = parse_config('[ops]\nlearn = ["scalar_diff"]\n[stop]\nmax_individuals = 10\n')
    assert (c.fec, c.hurdles, c.migration, c.mutation) == (
        FecConfig(), HurdleConfig(), MigrationConfig(), MutationConfig())
    assert c.stop == StopConfig(max_individuals=10)
    assert c.search_space.memory == MemoryConfig()
    defaults = {f.name: f.default for f in fields(ExperimentConfig)}
    for name in ("seed", "strategy", "backend", "max_experiments", "sufficient_fitness",
                 "early_select", "early_select_min_fitness", "combine", "max_abs_error",
                 "progress_every", "checkpoint_every", "population_size", "tournament_size",
                 "initial_population", "baselines"):
        assert getattr(c, name) == defaults[name], name
    learn = c.search_space.components["learn"]
    assert (learn.init_size, learn.min_size, learn.max_size) == (1, 0, None)
    assert not c.search_tasks.randomize


@pytest.mark.parametrize("text, key", [
    ("[run]\nmax_abs_error = nan\n", "run.max_abs_error"),
    ("[run]\nmax_abs_error = inf\n", "run.max_abs_error"),
    ("[run]\nmax_abs_error = -1\n", "run.max_abs_error"),
    ("[run]\nsufficient_fitness = nan\n", "run.sufficient_fitness"),
    ("[stop]\nmax_time_s = inf\n", "stop.max_time_s"),
    ("[stop]\nmax_time_s = nan\n", "stop.max_time_s"),
    ("[mutation]\nmutate_prob = nan\n", "mutation.mutate_prob"),
    ("[mutation]\ntypes = { insert = inf }\n", "mutation.types"),
    ("[mutation]\ntypes = { insert = nan }\n", "mutation.types"),
    ("[hurdles]\npercentile = nan\n", "hurdles.percentile"),
    ("[tasks.search]\nkind = \"data\"\npath = \"x.npz\"\nvalid_fraction = nan\n",
     "tasks.search.valid_fraction"),
])
def test_nan_and_inf_are_refused_by_key(text, key):
    limit = "[stop]\nmax_individuals = 10\n"
    text = text.replace("[stop]\n", limit) if "[stop]" in text else limit + text
    with pytest.raises(AmzConfigError) as info:
        parse_config('[ops]\nlearn = ["scalar_diff"]\n' + text, "bad.toml")
    assert key in str(info.value)
    assert "finite" in str(info.value) or "≥" in str(info.value)


@pytest.mark.parametrize("text", [
    # early selection without a reachable sufficient fitness never ends an experiment
    "[run]\nearly_select = true\n",
    "[run]\nearly_select = true\nsufficient_fitness = 1.0\n",
    # unlimited experiments need a time limit or a reachable sufficient fitness
    "[run]\nmax_experiments = 0\n[stop]\nmax_individuals = 10\n",
    "[run]\nmax_experiments = 0\nsufficient_fitness = 1.5\n[stop]\nmax_individuals = 10\n",
])
def test_configs_that_would_never_end(text):
    with pytest.raises(AmzConfigError, match="never end"):
        parse_config('[ops]\nlearn = ["scalar_diff"]\n' + text)


def test_configs_that_end():
    ops = '[ops]\nlearn = ["scalar_diff"]\n'
    c = parse_config(ops + "[run]\nearly_select = true\nsufficient_fitness = 0.9\n")
    assert c.early_select and c.stop == type(c.stop)()
    parse_config(ops + "[run]\nmax_experiments = 0\n[stop]\nmax_time_s = 5\nmax_individuals = 9\n")


def test_a_config_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.encode() + "# café\n".encode("latin-1"))
    with pytest.raises(AmzConfigError, match="latin1.toml: not a UTF-8 text file"):
        load_config(path)


@pytest.mark.parametrize("text, message", [
    ('eval_type = "mse"\n', "tasks.search.eval_type: task kind linear does not use it"),
    ('kind = "data"\npath = "x.npz"\neval_type = "mse"\n',
     "tasks.search.eval_type: must be one of rms, accuracy, got 'mse'"),
    ("held_out = true\n", "tasks.search.held_out: task kind linear does not use it"),
    ('data_dir = "cifar"\n', "tasks.search.data_dir: task kind linear does not use it"),
])
def test_task_fields_that_cannot_apply(text, message):
    with pytest.raises(AmzConfigError) as info:
        parse_config(MINIMAL + "[tasks.search]\n" + text, "bad.toml")
    assert message in str(info.value)


def test_fec_cannot_fingerprint_more_examples_than_a_task_has():
    text = MINIMAL + "[tasks.search]\nnum_train = 5\n[fec]\nenabled = true\n"
    with pytest.raises(AmzConfigError, match=r"fec.num_train = 10 is more than "
                       r"tasks.search.num_train = 5"):
        parse_config(text)
    assert parse_config(text + "num_train = 5\n").fec.num_train == 5
    assert not parse_config(text.replace("enabled = true", "enabled = false")).fec.enabled


def test_a_negative_seed_is_refused():
    with pytest.raises(AmzConfigError, match="--seed must be ≥ 0"):
        parse_config(MINIMAL, seed=-1)


# -- overrides (--set) ---------------------------------------------------------------------------


def test_overrides_replace_and_add_keys_and_are_recorded():
    c = parse_config(MINIMAL, "m.toml", overrides={"stop.max_individuals": 30,
                                                   "population.size": 100,
                                                   "tasks.select.num_tasks": 3})
    assert (c.stop.max_individuals, c.population_size) == (30, 100)
    assert c.select_tasks.spec.num_tasks == 3 and c.search_tasks.spec.num_tasks == 10
    assert c.source.startswith("# m.toml, overridden: stop.max_individuals = 30, "
                               "population.size = 100, tasks.select.num_tasks = 3\n")
    again = parse_config(c.source, "m.toml")  # the run folder's config.toml, on resume
    assert again == c


def test_without_overrides_the_source_is_the_file():
    assert parse_config(MINIMAL).source == MINIMAL


@pytest.mark.parametrize("overrides, message", [
    ({"stop.max_individual": 5}, "--set: unknown key 'stop.max_individual'; did you mean "
                                  "'max_individuals'?"),
    ({"stpo.max_individuals": 5}, "--set: unknown key 'stpo'; did you mean 'stop'?"),
    ({"stop.max_time_s": -1.0}, "--set: stop.max_time_s: must be ≥ 0.0"),
    ({"stop.max_time_s": "600"}, "--set: stop.max_time_s: expected a number, got '600'"),
    ({"stop.max_time_s": float("inf")}, "--set: stop.max_time_s: must be a finite number"),
    ({"run.name.x": 1}, "--set run.name.x: run.name is not a table"),
    ({"stop..x": 1}, "--set stop..x: a key is"),
    ({"stop.max_individuals": 0}, "never end"),
])
def test_overrides_are_checked_like_the_file(overrides, message):
    with pytest.raises(AmzConfigError) as info:
        parse_config(MINIMAL + '[run]\nname = "m"\n', "m.toml", overrides=overrides)
    assert message in str(info.value)


@pytest.mark.parametrize("text, key, value", [
    ("stop.max_time_s=600", "stop.max_time_s", 600),
    ("stop.max_time_s = 1.5", "stop.max_time_s", 1.5),
    ("fec.enabled=true", "fec.enabled", True),
    ('run.backend="numpy"', "run.backend", "numpy"),
    ("run.backend=numpy", "run.backend", "numpy"),  # not TOML: taken as a string
    ('mutation.types=["insert", "remove"]', "mutation.types", ["insert", "remove"]),
    ("stop.max_time_s=nan", "stop.max_time_s", "nan"),
])
def test_parse_override(text, key, value):
    from amzc.search.config import parse_override

    got = parse_override(text)
    assert got[0] == key
    assert got[1] == value or (value == "nan" and got[1] != got[1])


@pytest.mark.parametrize("text", ["=5", "stop.max_time_s", ""])
def test_parse_override_needs_key_and_value(text):
    from amzc.search.config import parse_override

    with pytest.raises(AmzConfigError, match="expected KEY=VALUE"):
        parse_override(text)


# -- island groups ([[migration.groups]]) -------------------------------------------------------

def test_island_groups_read_and_resize_their_islands():
    from amzc.search.config import IslandGroup, group_config

    c = parse_config(MINIMAL + "[migration]\nislands = 3\n"
                     "[[migration.groups]]\nislands = 2\nkind = \"nonlinear\"\nnum_train = 10\n"
                     "num_tasks = 1\npopulation = 50\ninterval = 800\n")
    (group,) = c.migration.groups
    assert group == IslandGroup(islands=2, kind="nonlinear", num_train=10, num_tasks=1,
                                population=50, interval=800)
    g = group_config(c, group)
    spec = g.search_tasks.spec
    assert (spec.kind, spec.num_train, spec.num_tasks) == ("nonlinear", 10, 1)
    assert c.search_tasks.spec.kind == "linear" and spec.features == c.search_tasks.spec.features
    assert g.search_tasks.spec.num_valid == c.search_tasks.spec.num_valid  # not given: kept
    assert (g.population_size, g.migration.interval) == (50, 800)
    assert g.search_space == c.search_space and g.migration.groups == ()
    assert group_config(c, None) is c


def test_a_groups_mutation_types_replace_the_experiments_on_its_islands_only():
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[mutation]\ntypes = {alter_param = 1, randomize_instruction = 1,"
                     " randomize_component_function = 0.2}\n[migration]\nislands = 3\n"
                     "[[migration.groups]]\nislands = 1\n"
                     "mutation_types = [\"alter_param\", \"randomize_component_function\"]\n"
                     "[[migration.groups]]\nislands = 1\n")
    local = (("alter_param", 1.0), ("randomize_instruction", 1.0),
             ("randomize_component_function", 0.2))
    assert c.mutation.types == local
    own, inherits = (group_config(c, g) for g in c.migration.groups)
    assert own.mutation.types == (("alter_param", 1.0), ("randomize_component_function", 1.0))
    assert own.mutation.mutate_prob == c.mutation.mutate_prob  # only the mix is the group's
    assert inherits.mutation == c.mutation and c.migration.groups[1].mutation_types is None
    table = parse_config(MINIMAL + "[migration]\nislands = 2\n[[migration.groups]]\n"
                         "islands = 1\nmutation_types = {randomize_instruction = 3}\n")
    assert group_config(table, table.migration.groups[0]).mutation.types == (
        ("randomize_instruction", 3.0),)


def test_island_restart_rule_is_the_experiments_unless_a_group_sets_it():
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[migration]\nislands = 4\nmax_stagnation = 5000\n"
                     "stagnation_delta = 0.01\nrestart_below = 0.8\n"
                     "stagnation_growth = 1.5\nbacktracks = 3\n"
                     "[[migration.groups]]\nislands = 1\n"
                     "[[migration.groups]]\nislands = 1\nmax_stagnation = 0\n"
                     "[[migration.groups]]\nislands = 1\nmax_stagnation = 300\n"
                     "stagnation_delta = 0\nrestart_below = 0.95\nstagnation_growth = 2\n"
                     "backtracks = 0\n")
    assert (c.migration.max_stagnation, c.migration.stagnation_delta) == (5000, 0.01)
    rules = [(g.migration.max_stagnation, g.migration.stagnation_delta,
              g.migration.restart_below, g.migration.stagnation_growth, g.migration.backtracks)
             for g in (group_config(c, group) for group in c.migration.groups)]
    assert rules == [(5000, 0.01, 0.8, 1.5, 3), (0, 0.01, 0.8, 1.5, 3),
                     (300, 0.0, 0.95, 2.0, 0)]
    default = parse_config(MINIMAL).migration
    assert (default.max_stagnation, default.restart_below) == (0, 1.0)  # off unless asked
    assert default.hold_above_arrivals == 0.0
    held = parse_config(MINIMAL + "[migration]\nislands = 3\nhold_above_arrivals = 0.03\n"
                        "[[migration.groups]]\nislands = 1\n"
                        "[[migration.groups]]\nislands = 1\nhold_above_arrivals = 0.1\n")
    assert [group_config(held, g).migration.hold_above_arrivals
            for g in (None, *held.migration.groups)] == [0.03, 0.03, 0.1]
    assert default.release_above_arrivals == 0.0  # no ceiling on a hold unless asked
    ceiling = parse_config(MINIMAL + "[migration]\nislands = 3\nhold_above_arrivals = 0.03\n"
                           "release_above_arrivals = 0.07\n[[migration.groups]]\nislands = 1\n"
                           "[[migration.groups]]\nislands = 1\nhold_above_arrivals = 0.05\n"
                           "release_above_arrivals = 0.2\n")
    assert [group_config(ceiling, g).migration.release_above_arrivals
            for g in (None, *ceiling.migration.groups)] == [0.07, 0.07, 0.2]
    assert default.release_after_rise == 0.0  # nor one from the held climb's level
    rise = parse_config(MINIMAL + "[migration]\nislands = 3\nhold_above_arrivals = 0.03\n"
                        "release_after_rise = 0.03\n[[migration.groups]]\nislands = 1\n"
                        "[[migration.groups]]\nislands = 1\nrelease_after_rise = 0.05\n")
    assert [group_config(rise, g).migration.release_after_rise
            for g in (None, *rise.migration.groups)] == [0.03, 0.03, 0.05]
    assert default.backtracks == 0  # a stalled island restarts from initial programs
    assert default.stagnation_growth == 1.0  # fixed windows unless asked
    assert [g.promote_at for g in c.migration.groups] == [None, None, None]  # never
    assert all(g.takes_migrants for g in c.migration.groups)  # two-way unless asked
    assert not default.fresh_tasks  # the same tasks for every attempt unless asked
    assert [g.sends_above for g in c.migration.groups] == [None, None, None]  # always sends
    assert default.sends_above == 0.0
    fresh = parse_config(MINIMAL + "[migration]\nislands = 3\n"
                         "[[migration.groups]]\nislands = 1\nfresh_tasks = true\n"
                         "[[migration.groups]]\nislands = 1\n")
    assert [group_config(fresh, g).migration.fresh_tasks for g in fresh.migration.groups] \
        == [True, False]
    assert not fresh.migration.fresh_tasks  # a group's key: the main islands keep theirs
    assert default.main_exchange  # main islands trade members unless asked
    apart = parse_config(MINIMAL + "[migration]\nislands = 3\nmain_exchange = false\n")
    assert not apart.migration.main_exchange
    with pytest.raises(AmzConfigError, match="main_exchange"):
        parse_config(MINIMAL + "[migration]\nmain_exchange = 1\n")
    with pytest.raises(AmzConfigError, match="main_exchange"):  # not a group's key
        parse_config(MINIMAL + "[migration]\nislands = 2\n"
                     "[[migration.groups]]\nislands = 1\nmain_exchange = false\n")
    sends = parse_config(MINIMAL + "[migration]\nislands = 2\n[[migration.groups]]\n"
                         "islands = 1\nsends_above = 0.75\n")
    assert group_config(sends, sends.migration.groups[0]).migration.sends_above == 0.75
    assert sends.migration.sends_above == 0.0
    frozen = parse_config(MINIMAL + "[migration]\nislands = 2\n[[migration.groups]]\n"
                          "islands = 1\nsends_above = 0.75\nfreezes_when_sending = true\n")
    assert frozen.migration.groups[0].freezes_when_sending
    assert group_config(frozen, frozen.migration.groups[0]).migration.freezes_when_sending
    assert not frozen.migration.freezes_when_sending  # the main islands never freeze
    assert not group_config(sends, sends.migration.groups[0]).migration.freezes_when_sending
    promoted = parse_config(MINIMAL + "[migration]\nislands = 2\n[[migration.groups]]\n"
                            "islands = 1\npromote_at = 0.9\n")
    assert promoted.migration.groups[0].promote_at == 0.9


@pytest.mark.parametrize("text, message", [
    ("[[migration.groups]]\nnum_train = 10\n",
     "migration.groups[1].islands: needed: how many islands the group has"),
    ("[[migration.groups]]\nislands = 1\nnum_trian = 10\n",
     "unknown key 'migration.groups[1].num_trian'; did you mean 'num_train'?"),
    ("[[migration.groups]]\nislands = 0\n", "migration.groups[1].islands: must be ≥ 1, got 0"),
    ("[[migration.groups]]\nislands = 1\npopulation = true\n",
     "migration.groups[1].population: expected an integer, got a boolean"),
    ("[[migration.groups]]\nislands = 1\nnum_tasks = 1.5\n", "groups[1].num_tasks"),
    ("[migration]\ngroups = [1]\n", "a group is a table"),
    ("[[migration.groups]]\nislands = 1\nmax_stagnation = -1\n",
     "migration.groups[1].max_stagnation: must be ≥ 0, got -1"),
    ("[[migration.groups]]\nislands = 1\nstagnation_delta = nan\n",
     "migration.groups[1].stagnation_delta: must be a finite number, got nan"),
    ("[[migration.groups]]\nislands = 1\nstagnation_delta = -0.5\n",
     "migration.groups[1].stagnation_delta: must be ≥ 0.0, got -0.5"),
    ("[[migration.groups]]\nislands = 1\nstagnation_delta = true\n",
     "migration.groups[1].stagnation_delta: expected a number, got a boolean"),
    ("[migration]\nmax_stagnation = -5\n", "max_stagnation"),
    ("[migration]\nrestart_below = 1.5\n", "restart_below"),
    ("[migration]\nhold_above_arrivals = 1.5\n", "hold_above_arrivals"),
    ("[migration]\nrelease_above_arrivals = 1.5\n", "release_above_arrivals"),
    ("[migration]\nrelease_above_arrivals = 0.05\n",
     "migration: release_above_arrivals = 0.05 must lie above hold_above_arrivals > 0 "
     "(here 0.0): it ends the hold that bar begins"),
    ("[migration]\nhold_above_arrivals = 0.05\nrelease_above_arrivals = 0.05\n",
     "must lie above hold_above_arrivals > 0 (here 0.05)"),
    ("[migration]\nislands = 2\nhold_above_arrivals = 0.05\n[[migration.groups]]\n"
     "islands = 1\nhold_above_arrivals = 0.1\nrelease_above_arrivals = 0.08\n",
     "migration.groups[1]: release_above_arrivals = 0.08 must lie above "
     "hold_above_arrivals > 0 (here 0.1): it"),
    # a group that turns its hold off under an inherited ceiling: says where that came from
    ("[migration]\nislands = 2\nhold_above_arrivals = 0.05\nrelease_above_arrivals = 0.1\n"
     "[[migration.groups]]\nislands = 1\nhold_above_arrivals = 0\n",
     "migration.groups[1]: release_above_arrivals = 0.1 must lie above hold_above_arrivals > 0 "
     "(here 0.0) (release_above_arrivals from [migration])"),
    ("[[migration.groups]]\nislands = 1\nrelease_above_arrivals = -0.1\n",
     "migration.groups[1].release_above_arrivals: must be in [0.0, 1.0], got -0.1"),
    ("[migration]\nrelease_after_rise = 0.03\n",
     "migration: release_after_rise = 0.03 needs hold_above_arrivals > 0 (here 0.0): it ends "
     "the hold that bar begins"),
    ("[migration]\nislands = 2\nhold_above_arrivals = 0.05\nrelease_after_rise = 0.03\n"
     "[[migration.groups]]\nislands = 1\nhold_above_arrivals = 0\n",
     "migration.groups[1]: release_after_rise = 0.03 needs hold_above_arrivals > 0 (here 0.0) "
     "(release_after_rise from [migration])"),
    ("[[migration.groups]]\nislands = 1\nrelease_after_rise = 1.5\n",
     "migration.groups[1].release_after_rise: must be in [0.0, 1.0], got 1.5"),
    ("[migration]\nstagnation_growth = 0.5\n",
     "migration.stagnation_growth: must be in [1.0, 10.0], got 0.5"),
    ("[migration]\nstagnation_growth = 1e300\n", "migration.stagnation_growth: must be in"),
    ("[run]\nstrategy = \"random\"\n[migration]\nislands = 2\n[[migration.groups]]\n"
     "islands = 1\npromote_at = 0.9\n", "random search keeps none"),
    ("[[migration.groups]]\nislands = 1\npromote_at = 1.5\n",
     "migration.groups[1].promote_at: must be in [0.0, 1.0], got 1.5"),
    ("[migration]\npromote_at = 0.9\n", "unknown key 'migration.promote_at'"),
    ("[[migration.groups]]\nislands = 1\nstagnation_growth = 0.9\n",
     "migration.groups[1].stagnation_growth: must be in [1.0, 10.0], got 0.9"),
    ("[migration]\nbacktracks = -1\n", "migration.backtracks: must be ≥ 0, got -1"),
    ("[migration]\nbacktracks = 1.5\n", "migration.backtracks: expected an integer"),
    ("[[migration.groups]]\nislands = 1\nbacktracks = -2\n",
     "migration.groups[1].backtracks: must be ≥ 0, got -2"),
    ("[[migration.groups]]\nislands = 1\nrestart_below = -0.1\n",
     "migration.groups[1].restart_below: must be in [0.0, 1.0], got -0.1"),
    ("[[migration.groups]]\nislands = 1\nhold_above_arrivals = -0.1\n",
     "migration.groups[1].hold_above_arrivals: must be in [0.0, 1.0], got -0.1"),
    ("[[migration.groups]]\nislands = 1\nrestart_below = true\n",
     "migration.groups[1].restart_below: expected a number, got a boolean"),
    ("[[migration.groups]]\nislands = 1\ntakes_migrants = 0\n",
     "migration.groups[1].takes_migrants: expected"),
    ("[[migration.groups]]\nislands = 1\nfresh_tasks = \"yes\"\n",
     "migration.groups[1].fresh_tasks: expected"),
    ("[migration]\nfresh_tasks = true\n", "unknown key 'migration.fresh_tasks'"),
    ("[[migration.groups]]\nislands = 1\nsends_above = 1.5\n",
     "migration.groups[1].sends_above: must be in [0.0, 1.0], got 1.5"),
    ("[migration]\nsends_above = 0.5\n", "unknown key 'migration.sends_above'"),
    ("[[migration.groups]]\nislands = 1\nfreezes_when_sending = true\n",
     "migration.groups[1].freezes_when_sending: needs sends_above > 0"),
    ("[[migration.groups]]\nislands = 1\nsends_above = 0.5\npromote_at = 0.9\n"
     "freezes_when_sending = true\n",
     "migration.groups[1].freezes_when_sending: cannot go with promote_at"),
    ("[[migration.groups]]\nislands = 1\nsends_above = 0.5\nfreezes_when_sending = 1\n",
     "migration.groups[1].freezes_when_sending"),
    ("[migration]\nfreezes_when_sending = true\n",
     "unknown key 'migration.freezes_when_sending'"),
    ("[[migration.groups]]\nislands = 1\nmutation_types = [\"alter_parm\"]\n",
     "migration.groups[1].mutation_types: unknown mutation type 'alter_parm'; did you mean "
     "'alter_param'?"),
    ("[[migration.groups]]\nislands = 1\nmutation_types = {alter_param = -1}\n",
     "migration.groups[1].mutation_types: the weight of alter_param must be"),
    ("[[migration.groups]]\nislands = 1\nmutation_types = []\n",
     "migration.groups[1].mutation_types: needs at least one mutation type"),
    ("[[migration.groups]]\nislands = 1\nmutation_types = \"alter_param\"\n",
     "migration.groups[1].mutation_types: expected"),
    ("[[migration.groups]]\nislands = 1\nscale_spread = 0.5\n",
     "migration.groups[1].scale_spread: must be in [1.0, 100.0], got 0.5"),
    ("[[migration.groups]]\nislands = 1\nkind = \"digits\"\nscale_spread = 2\n",
     "scale_spread applies to task linear and affine and nonlinear only, not to task digits"),
    ("[tasks.search]\nscale_spread = \"big\"\n", "the scale spread must be a number"),
    ("[tasks.search]\nfeature_scales = 0.5\n", "tasks.search.feature_scales: expected a list"),
    ("[tasks.search]\nfeature_scales = [0.5, \"x\"]\n",
     "tasks.search.feature_scales: must be a list of numbers"),
    ("[tasks.search]\nfeature_scales = [0.5, nan]\n", "must be a list of numbers"),
    ("[tasks.search]\nfeature_scales = [0.001]\n",
     "tasks.search.feature_scales: each factor must be in [0.01, 100], got [0.001]"),
    ("[[migration.groups]]\nislands = 1\nfeature_scales = [true]\n",
     "migration.groups[1].feature_scales: must be a list of numbers"),
    ("[[migration.groups]]\nislands = 1\nfeature_scales = [1000]\n",
     "migration.groups[1].feature_scales: each factor must be in"),
    ("[[migration.groups]]\nislands = 1\nkind = \"digits\"\nfeature_scales = [2]\n",
     "feature_scales applies to task linear and affine and nonlinear only, not to task digits"),
    ("[[migration.groups]]\nislands = 1\nkind = \"lineer\"\n",
     "groups[1].kind: must be one of affine,"),
    ("[[migration.groups]]\nislands = 1\nkind = \"data\"\n",
     "migration.groups[1]: task data needs a data file"),
    ("[fec]\nenabled = true\n[[migration.groups]]\nislands = 1\nnum_train = 5\n",
     "migration.groups[1]: fec.num_train = 10 is more than the group's num_train = 5"),
    ("[migration]\nfraction = 0.1\n[[migration.groups]]\nislands = 1\npopulation = 4\n",
     "fraction = 0.1 of the group's population of 4 rounds to no migrant"),
    ("[population]\nsize = 3\n[migration]\nfraction = 0.1\n[[migration.groups]]\n"
     "islands = 1\npopulation = 100\n",
     "fraction = 0.1 of the main islands' population of 3 rounds to no migrant"),
])
def test_bad_island_groups_say_what_is_wrong(text, message):
    with pytest.raises(AmzConfigError) as info:
        parse_config(MINIMAL + text, "bad.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("bad.toml")


def test_a_group_without_a_task_past_the_hurdle_runs_without_it():
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[hurdles]\nenabled = true\n[tasks.search]\nnum_tasks = 3\n"
                     "[[migration.groups]]\nislands = 1\nnum_tasks = 1\n"
                     "[[migration.groups]]\nislands = 1\nnum_tasks = 2\n")
    one, two = c.migration.groups
    assert not group_config(c, one).hurdles.enabled
    assert group_config(c, two).hurdles.enabled and c.hurdles.enabled


def test_a_group_of_another_kind_drops_the_experiments_kind_fields(tmp_path):
    """CIFAR-10 main islands beside a digits group (the paper's §4.2 searched on two
    datasets): the group's tasks carry no data folder, whose kind would refuse it."""
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + f"[tasks.search]\nkind = \"cifar10\"\ndata_dir = \"{tmp_path}\"\n"
                     "features = 16\n[[migration.groups]]\nislands = 1\nkind = \"digits\"\n")
    spec = group_config(c, c.migration.groups[0]).search_tasks.spec
    assert (spec.kind, spec.data_dir, spec.features) == ("digits", None, 16)
    assert c.search_tasks.spec.data_dir == str(tmp_path)


def test_scale_spread_is_read_for_the_experiment_and_for_a_group():
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[tasks.search]\nkind = \"nonlinear\"\nscale_spread = 2\n"
                     "[migration]\nislands = 3\n"
                     "[[migration.groups]]\nislands = 1\nkind = \"linear\"\n"
                     "[[migration.groups]]\nislands = 1\nkind = \"linear\"\nscale_spread = 3\n")
    assert c.search_tasks.spec.scale_spread == 2
    inherit, own = (group_config(c, g).search_tasks.spec for g in c.migration.groups)
    assert (inherit.kind, inherit.scale_spread) == ("linear", 2)  # a regression kind keeps it
    assert (own.kind, own.scale_spread) == ("linear", 3.0)
    assert parse_config(MINIMAL).search_tasks.spec.scale_spread == 1.0


def test_feature_scales_are_read_for_the_experiment_and_for_a_group():
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[tasks.search]\nfeature_scales = [0.35, 1]\n"
                     "[migration]\nislands = 3\n"
                     "[[migration.groups]]\nislands = 1\n"
                     "[[migration.groups]]\nislands = 1\nfeature_scales = [2]\n")
    assert c.search_tasks.spec.feature_scales == (0.35, 1.0)
    inherit, own = (group_config(c, g).search_tasks.spec for g in c.migration.groups)
    assert inherit.feature_scales == (0.35, 1.0) and own.feature_scales == (2.0,)
    assert parse_config(MINIMAL).search_tasks.spec.feature_scales == ()
    # T_select and the final tasks inherit them, as any task field; [] undoes that
    c = parse_config(MINIMAL + "[tasks.search]\nfeature_scales = [0.35]\n"
                     "[tasks.final]\nfeature_scales = []\n")
    assert c.select_tasks.spec.feature_scales == (0.35,)
    assert c.final_tasks.spec.feature_scales == ()


def test_a_table_of_another_kind_drops_inherited_fields_it_cannot_use():
    """[tasks.final] of digits below scaled linear search tasks: scale_spread is the search
    tasks' and not the final tasks' (a digits group likewise)."""
    from amzc.search.config import group_config

    c = parse_config(MINIMAL + "[tasks.search]\nscale_spread = 2\nfeatures = 16\n"
                     "[tasks.final]\nkind = \"digits\"\n[[migration.groups]]\nislands = 1\n"
                     "kind = \"digits\"\n")
    assert c.search_tasks.spec.scale_spread == 2 and c.final_tasks.spec.scale_spread == 1.0
    assert group_config(c, c.migration.groups[0]).search_tasks.spec.scale_spread == 1.0


def test_integer_task_fields_stay_integers():
    c = parse_config(MINIMAL + "[tasks.search]\nkind = \"digits\"\nfeatures = 16\n"
                     "positive_class = 3\nnegative_class = 8\n")
    spec = c.search_tasks.spec
    assert (spec.positive_class, spec.negative_class) == (3, 8)
    assert isinstance(spec.positive_class, int)


def test_errors_of_groups_given_by_set_name_set():
    with pytest.raises(AmzConfigError, match=r"^--set: migration.groups\[1\]: fec.num_train"):
        parse_config(MINIMAL + "[fec]\nenabled = true\n", "c.toml",
                     overrides={"migration.groups": [{"islands": 1, "num_train": 5}]})


@pytest.mark.parametrize("text, overrides, origin, key", [
    # the ceiling given by --set, directly or through the groups
    ("[migration]\nhold_above_arrivals = 0.05\n",
     {"migration.release_above_arrivals": 0.05}, "--set: migration: ", "release_above_arrivals"),
    ("", {"migration.groups": [{"islands": 1, "release_above_arrivals": 0.05}]},
     "--set: migration.groups[1]: ", "release_above_arrivals"),
    # a group inheriting a value --set gave
    ("[migration]\nislands = 2\nhold_above_arrivals = 0.02\n[[migration.groups]]\n"
     "islands = 1\nhold_above_arrivals = 0.1\n",
     {"migration.release_above_arrivals": 0.08}, "--set: migration.groups[1]: ",
     "release_above_arrivals"),
    # every value at fault is the file's, whatever --set changed besides
    ("[migration]\nislands = 2\n[[migration.groups]]\nislands = 1\n"
     "hold_above_arrivals = 0.1\nrelease_above_arrivals = 0.08\n",
     {"migration.hold_above_arrivals": 0.02}, "r.toml: migration.groups[1]: ",
     "release_above_arrivals"),
    # the ceiling from the held level, likewise
    ("", {"migration.release_after_rise": 0.03}, "--set: migration: ", "release_after_rise"),
    ("[migration]\nrelease_after_rise = 0.03\n", {"migration.islands": 2},
     "r.toml: migration: ", "release_after_rise"),
])
def test_a_bad_release_ceiling_names_where_it_was_given(text, overrides, origin, key):
    with pytest.raises(AmzConfigError) as info:
        parse_config(MINIMAL + text, "r.toml", overrides=overrides)
    assert str(info.value).startswith(origin) and key in str(info.value)


@pytest.mark.parametrize("group, message", [
    ({"num_train": 10}, "migration.groups[1].islands: needed: how many islands the group has"),
    ({"islands": 0}, "migration.groups[1].islands: must be ≥ 1, got 0"),
    ({"islands": 1, "restart_below": 2.0}, "migration.groups[1].restart_below: must be in"),
    ({"islands": 1, "mutation_types": ["alter_parm"]},
     "migration.groups[1].mutation_types: unknown mutation type"),
])
def test_a_bad_group_given_by_set_is_reported_as_set(group, message):
    with pytest.raises(AmzConfigError) as info:
        parse_config(MINIMAL, "m.toml", overrides={"migration.groups": [group]})
    assert str(info.value).startswith("--set: ") and message in str(info.value)
