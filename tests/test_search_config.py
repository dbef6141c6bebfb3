"""Experiment files: the shipped configs load, bad ones fail with one clear message."""

from __future__ import annotations

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
