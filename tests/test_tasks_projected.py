"""Projected binary classification tasks (amzc/tasks/projected.py): pairs, labels, stratified
split, projection, standardization, sizes, and the digits task end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amzc.cli import app
from amzc.errors import AmzConfigError
from amzc.evaluate import evaluate
from amzc.parse import parse_file
from amzc.tasks import TaskSpec, build_tasks, projected, task_spec
from amzc.tasks.projected import HELD_OUT_PAIRS, ImageSource, candidate_pairs

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_search_and_held_out_pairs_partition_the_45_pairs():
    search, held = candidate_pairs(False), candidate_pairs(True)
    assert len(search) == 36 and len(held) == 9
    assert set(search).isdisjoint(held)
    assert set(search) | set(held) == {(i, j) for i in range(10) for j in range(i + 1, 10)}
    assert set(held) == {tuple(sorted(p)) for p in HELD_OUT_PAIRS}
    assert search == sorted(search)


@pytest.mark.parametrize("held_out", [False, True])
def test_random_pairs_come_from_the_right_list_and_vary(held_out):
    spec = TaskSpec(kind="digits", held_out=held_out)
    pairs = {projected.task_pair(spec, seed) for seed in range(200)}
    assert pairs <= set(candidate_pairs(held_out))
    assert len(pairs) == len(candidate_pairs(held_out))  # 200 draws hit every pair


def test_fixed_pair_is_used_for_every_task():
    spec = TaskSpec(kind="digits", positive_class=7, negative_class=1)
    assert {projected.task_pair(spec, seed) for seed in range(20)} == {(7, 1)}


@pytest.mark.parametrize("fields, message", [
    ({"positive_class": 3}, "both positive_class and negative_class"),
    ({"positive_class": 3, "negative_class": 3}, "must differ"),
    ({"positive_class": 10, "negative_class": 3}, "class id in 0..9"),
])
def test_bad_fixed_pairs_are_reported(fields, message):
    with pytest.raises(AmzConfigError, match=message):
        build_tasks(TaskSpec(kind="digits", **fields))


def test_split_is_stratified_disjoint_and_labels_the_positive_class_1():
    labels = np.array([3] * 60 + [5] * 40 + [1] * 50)
    train, train_y, valid, valid_y = projected.split(labels, (5, 3), 50, 30, key=42)
    assert len(train) == 50 and len(valid) == 30
    assert set(train).isdisjoint(valid)
    assert np.array_equal(train_y, (labels[train] == 5).astype(float))
    assert np.array_equal(valid_y, (labels[valid] == 5).astype(float))
    assert set(labels[np.concatenate([train, valid])]) == {3, 5}
    assert train_y.sum() == 20 and valid_y.sum() == 12  # 40% positives in both
    # seeded: same key, same split; another key, another order
    again = projected.split(labels, (5, 3), 50, 30, key=42)
    first = (train, train_y, valid, valid_y)
    assert all(np.array_equal(a, b) for a, b in zip(again, first, strict=True))
    assert not np.array_equal(projected.split(labels, (5, 3), 50, 30, key=43)[0], train)


def test_split_can_use_every_example_of_an_unbalanced_pair():
    labels = np.array([0] * 7 + [1] * 3)
    train, train_y, valid, valid_y = projected.split(labels, (0, 1), 6, 4, key=1)
    assert sorted(np.concatenate([train, valid])) == list(range(10))
    assert train_y.sum() + valid_y.sum() == 7


def test_projection_depends_on_the_seed_only():
    r = projected.projection(5, 64, 16)
    assert r.shape == (64, 16)
    assert np.array_equal(r, projected.projection(5, 64, 16))
    assert not np.array_equal(r, projected.projection(6, 64, 16))
    assert abs(r.mean()) < 0.1 and abs(r.std() - 1) < 0.1


def _toy_source() -> ImageSource:
    """Ten classes of 30 images; class c has pixels c + small noise, so classes separate."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)
    pixels = labels[:, None] + rng.normal(0, 0.1, (300, 12))
    return ImageSource("toy", pixels, labels)


def test_features_are_the_standardized_projection_of_the_pair_pixels():
    source = _toy_source()
    spec = TaskSpec(kind="digits", features=3, num_train=40, num_valid=20, num_tasks=1,
                    positive_class=2, negative_class=7, data_seeds=(9,))
    tasks = projected.build_tasks(spec, source)
    train, _, valid, _ = projected.split(source.labels, (2, 7), 40, 20,
                                         projected.derive_key(9, projected.SPLIT))
    r = projected.projection(9, 12, 3)
    raw_train, raw_valid = source.pixels[train] @ r, source.pixels[valid] @ r
    mean, std = raw_train.mean(0), raw_train.std(0)
    np.testing.assert_allclose(tasks.train_x[0], (raw_train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(tasks.valid_x[0], (raw_valid - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(tasks.train_x[0].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(tasks.train_x[0].std(0), 1, rtol=1e-12)


def test_zero_variance_features_are_not_divided_by_zero():
    x, y = projected.standardize(np.ones((5, 2)), np.zeros((3, 2)))
    assert np.array_equal(x, np.zeros((5, 2))) and np.array_equal(y, -np.ones((3, 2)))


def test_digits_task_set_shapes_labels_and_determinism():
    spec = task_spec("digits", num_tasks=4, epochs=3)
    tasks = build_tasks(spec)
    assert tasks.eval_type == "accuracy" and tasks.name == "digits"
    assert tasks.train_x.shape == (4, 250, 16) and tasks.valid_x.shape == (4, 100, 16)
    assert tasks.train_x.dtype == np.float64
    assert set(np.unique(tasks.train_y)) == {0.0, 1.0} == set(np.unique(tasks.valid_y))
    assert abs(tasks.train_y.mean() - 0.5) < 0.05
    assert tasks.train_order.shape == (4, 3, 250)
    assert np.array_equal(tasks.train_order[:, 0], np.tile(np.arange(250), (4, 1)))
    again = build_tasks(spec)
    assert np.array_equal(tasks.train_x, again.train_x)
    assert np.array_equal(tasks.valid_y, again.valid_y)
    other = build_tasks(spec.reseeded(7))
    assert not np.array_equal(tasks.train_x, other.train_x)


def test_digits_sizes_beyond_the_smallest_pair_give_a_clear_error():
    with pytest.raises(AmzConfigError, match=r"\(2, 8\) has 351 images.*300 train \+ 100 valid"):
        build_tasks(task_spec("digits", num_train=300, num_valid=100))
    # a fixed pair with more images accepts more
    tasks = build_tasks(task_spec("digits", num_train=300, num_valid=60, num_tasks=1,
                                  positive_class=0, negative_class=1))
    assert tasks.num_train == 300


def test_logistic_regression_example_learns_digits():
    program = parse_file(EXAMPLES / "logistic_regression.amz")
    search = evaluate(program, build_tasks(task_spec("digits"))).fitness
    held_out = evaluate(program, build_tasks(task_spec("digits", held_out=True))).fitness
    assert search > 0.95 and held_out > 0.95
    empty = evaluate(parse_file(EXAMPLES / "empty.amz"), build_tasks(task_spec("digits")))
    assert empty.fitness < 0.6  # always predicting class 0 is right about half the time


def test_cli_runs_digits_and_reports_bad_sizes():
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(EXAMPLES / "logistic_regression.amz"), "--task",
                                 "digits", "--tasks", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert '"features": 16' in result.output and '"train": 250' in result.output
    result = runner.invoke(app, ["run", str(EXAMPLES / "logistic_regression.amz"), "--task",
                                 "digits", "--train", "1000"])
    assert result.exit_code == 2
    assert "1000 train + 100 valid" in result.output
    result = runner.invoke(app, ["run", str(EXAMPLES / "logistic_regression.amz"), "--task",
                                 "digits", "--eval-type", "rms"])
    assert result.exit_code == 2 and "data:PATH only" in result.output
