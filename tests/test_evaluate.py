"""amzc.evaluate: the train/validate protocol (docs/language.md), fitness and combination,
checked on hand-made task sets with programs whose every prediction is known in advance.

Most programs below count: Setup writes ``s3 = 1``; ``s5 = s5 + s3`` in Predict counts Predict
calls and ``s6 = s6 + s3`` in Learn counts Learn calls (memory persists)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_taskset, one_task, run_program

from amzc.errors import AmzConfigError
from amzc.evaluate import (
    FEC_RECORD_LIMIT,
    EvalOptions,
    combine,
    evaluate,
    flip_and_squash,
    get_backend,
    sigmoid,
)
from amzc.parse import parse
from amzc.syntax import MemoryConfig

COUNTING = """\
def Setup():
  s3 = 1.0
def Predict():
  s5 = s5 + s3
  s1 = s5 + s4
def Learn():
  s6 = s6 + s3
"""
S = {"count_predict": 5, "count_learn": 6}


def xs(n: int, f: int = 2, start: float = 0.0) -> np.ndarray:
    """n distinct feature vectors."""
    return (start + np.arange(n * f, dtype=np.float64)).reshape(n, f)


def fitness_of(rmse: float) -> float:
    return 1.0 - 2.0 / math.pi * math.atan(rmse)


# ---------------------------------------------------------------------------------------------
# Fitness and combination


@pytest.mark.parametrize(
    "rmse, fitness",
    [(0.0, 1.0), (0.01, 0.99363), (0.1, 0.93655), (0.5, 0.70483), (1.0, 0.5), (2.0, 0.29517)],
)
def test_flip_and_squash_sample_values(rmse, fitness):
    """1 − (2/π)·atan(RMSE) at a few RMSE values."""
    assert float(flip_and_squash(rmse)) == pytest.approx(fitness, abs=5e-6)


def test_flip_and_squash_threshold_and_non_finite():
    assert float(flip_and_squash(1.5707e-4)) > 0.9999 > float(flip_and_squash(1.5709e-4))
    np.testing.assert_array_equal(flip_and_squash(np.array([np.nan, np.inf, 1e300])),
                                  [0.0, 0.0, fitness_of(1e300)])


def test_combine_mean_and_upper_median():
    values = np.array([0.1, 0.9, 0.5, 0.3])
    assert combine(values, "mean") == pytest.approx(0.45)
    assert combine(values, "median") == 0.5  # element n/2 of the sorted list: the upper median
    assert combine(np.array([0.2, 0.7, 0.4]), "median") == 0.4
    assert combine(np.array([0.8]), "median") == 0.8
    with pytest.raises(AmzConfigError, match="mean or median"):
        combine(values, "geometric")  # type: ignore[arg-type]


def test_sigmoid():
    np.testing.assert_allclose(sigmoid(np.array([0.0, 2.0, -2.0])),
                               [0.5, 1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))])


def test_get_backend():
    assert get_backend("numpy").name == "numpy"
    with pytest.raises(AmzConfigError, match="unknown backend"):
        get_backend("cuda")


def test_evaluate_combines_per_task_fitness():
    tasks = make_taskset(np.zeros((3, 2, 1)), np.zeros((3, 2)), np.zeros((3, 2, 1)),
                         [[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]])
    empty = parse("")
    result = evaluate(empty, tasks)
    expected = [fitness_of(1.0), fitness_of(2.0), 1.0]
    np.testing.assert_allclose(result.per_task, expected, rtol=1e-15)
    assert result.fitness == pytest.approx(np.mean(expected), rel=1e-15)
    median = evaluate(empty, tasks, options=EvalOptions(combine="median"))
    assert median.fitness == pytest.approx(fitness_of(1.0))
    assert evaluate(empty, tasks, MemoryConfig(2, 1, 0), backend=get_backend("numpy")).fitness \
        == result.fitness


# ---------------------------------------------------------------------------------------------
# The protocol, step by step


def test_label_is_zero_during_predict():
    """A Predict that copies s0 into s1 predicts 0 (s0 = 0 before every Predict)."""
    labels = np.array([1.0, -2.0, 3.0])
    tasks = one_task(xs(3), labels, xs(3), labels)
    out = run_program("def Predict():\n  s1 = s0 + s2\n", tasks)
    assert out.fitness[0] == pytest.approx(fitness_of(math.sqrt(np.mean(labels**2))), rel=1e-15)
    assert out.scalars[0, 0] == 0.0  # after the last validation Predict
    # every Predict, in training too, sees s0 = 0 (not the previous Learn's label)
    seen = run_program("def Predict():\n  s2 = s2 + s0\n", tasks)
    assert seen.scalars[0, 2] == 0.0


def test_learn_sees_the_label():
    """s0 = y before Learn: Learn sums the labels it saw."""
    train_y = np.array([1.0, 2.0, 4.0])
    out = run_program("def Learn():\n  s2 = s2 + s0\n",
                      one_task(xs(3), train_y, xs(1), [0.0]))
    assert out.scalars[0, 2] == 7.0


def test_features_are_rewritten_before_learn():
    """Predict doubles v0; Learn must still see the original features (v1 = v0 + v2, v2 = 0)."""
    train_x, valid_x = xs(3), xs(2, start=100.0)
    program = "def Predict():\n  v0 = v0 + v0\ndef Learn():\n  v1 = v0 + v2\n  v3 = v3 + v0\n"
    out = run_program(program, one_task(train_x, np.zeros(3), valid_x, np.zeros(2)))
    np.testing.assert_array_equal(out.vectors[0, 1], train_x[-1])
    np.testing.assert_array_equal(out.vectors[0, 3], train_x.sum(axis=0))
    np.testing.assert_array_equal(out.vectors[0, 0], 2 * valid_x[-1])  # last valid Predict


def test_predict_sees_the_features():
    train_x = xs(4)
    w = np.array([0.5, -1.0])
    program = "def Setup():\n  v1[0] = 0.5\n  v1[1] = -1.0\ndef Predict():\n  s1 = dot(v0, v1)\n"
    out = run_program(program, one_task(train_x, train_x @ w, train_x, train_x @ w))
    assert out.fitness[0] == 1.0


def test_setup_runs_once_and_memory_persists_into_validation():
    """After N training examples every validation Predict sees the N Learn calls."""
    n, nv = 6, 4
    out = run_program(COUNTING, one_task(xs(n), np.arange(1.0, n + 1), xs(nv),
                                         np.arange(n + 1.0, n + nv + 1)))
    assert out.fitness[0] == 1.0  # predictions n+1..n+nv exactly: memory carried over
    assert out.scalars[0, S["count_predict"]] == n + nv
    assert out.scalars[0, S["count_learn"]] == n
    assert out.scalars[0, 3] == 1.0


def test_validation_predicts_change_memory_in_stored_order():
    n, nv = 3, 5
    labels_if_carried = np.arange(n + 1.0, n + nv + 1)
    tasks = one_task(xs(n), np.arange(1.0, n + 1), xs(nv), labels_if_carried)
    assert run_program(COUNTING, tasks).fitness[0] == 1.0
    reversed_labels = one_task(xs(n), np.arange(1.0, n + 1), xs(nv), labels_if_carried[::-1])
    assert run_program(COUNTING, reversed_labels).fitness[0] < 1.0


def test_each_task_starts_from_zeroed_memory():
    tasks = make_taskset(np.zeros((3, 2, 1)), np.zeros((3, 2)), np.zeros((3, 1, 1)),
                         np.zeros((3, 1)))
    out = run_program(COUNTING, tasks)
    np.testing.assert_array_equal(out.scalars[:, S["count_predict"]], [3.0, 3.0, 3.0])


def test_validation_after_every_epoch_and_best_epoch_fitness():
    """Two epochs of n, nv validation examples each; Predict counts its calls."""
    n, nv = 4, 3
    orders = np.stack([np.arange(n), np.arange(n)[::-1]])[None]
    epoch1 = np.arange(n + 1.0, n + nv + 1)  # predictions of the first validation
    epoch2 = epoch1 + n + nv  # of the second: memory went on counting
    train_y = np.arange(1.0, n + 1)

    def fit(valid_y, epochs=2):
        tasks = one_task(xs(n), train_y, xs(nv), valid_y, orders=orders[:, :epochs])
        return run_program(COUNTING, tasks)

    out = fit(epoch2)
    assert out.fitness[0] == 1.0  # validation ran after epoch 2, memory never reset
    assert out.scalars[0, S["count_predict"]] == 2 * (n + nv)
    assert out.scalars[0, S["count_learn"]] == 2 * n
    assert fit(epoch1).fitness[0] == 1.0  # the best epoch, not the last
    assert fit(epoch2, epochs=1).fitness[0] == pytest.approx(fitness_of(n + nv), rel=1e-15)
    mixed = np.array([epoch1[0], epoch2[1], epoch2[2]])
    rmse1 = math.sqrt(((mixed - epoch1) ** 2).mean())
    rmse2 = math.sqrt(((mixed - epoch2) ** 2).mean())
    assert fit(mixed).fitness[0] == pytest.approx(max(fitness_of(rmse1), fitness_of(rmse2)),
                                                  rel=1e-15)


def test_training_visits_examples_in_each_epochs_order():
    """Learn accumulates s2 = 2·s2 + y: the result depends on the order of the labels."""
    train_y = np.array([1.0, 0.0, 0.0, 0.0])
    orders = np.array([[[0, 1, 2, 3], [3, 2, 1, 0]]])
    program = "def Setup():\n  s3 = 1.0\ndef Learn():\n  s2 = s2 + s2\n  s2 = s2 + s0\n"
    one = run_program(program, one_task(xs(4), train_y, xs(1), [0.0], orders=orders[:, :1]))
    two = run_program(program, one_task(xs(4), train_y, xs(1), [0.0], orders=orders))
    assert one.scalars[0, 2] == 8.0  # 1 first, then doubled 3 times: 0b1000
    assert two.scalars[0, 2] == 8.0 * 16 + 1.0  # then four doublings, the 1 added last


# ---------------------------------------------------------------------------------------------
# Aborts: |y − s1| NaN or above max_abs_error


def test_first_epoch_abort_gives_zero_even_if_validation_would_be_perfect():
    train_x = np.array([[0.0], [0.0], [500.0], [0.0]])
    program = "def Predict():\n  s1 = mean(v0)\n"
    out = run_program(program, one_task(train_x, np.zeros(4), np.zeros((2, 1)), np.zeros(2)))
    assert out.fitness[0] == 0.0
    out = run_program(program, one_task(train_x, np.zeros(4), np.zeros((2, 1)), np.zeros(2)),
                      max_abs_error=1000.0)
    assert out.fitness[0] == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 100.5])
def test_non_finite_or_large_training_errors_abort(bad):
    train_x = np.array([[0.0], [bad]])
    out = run_program("def Predict():\n  s1 = mean(v0)\n",
                      one_task(train_x, np.zeros(2), np.zeros((1, 1)), np.zeros(1)))
    assert out.fitness[0] == 0.0


def test_error_of_exactly_max_abs_error_does_not_abort():
    train_x = np.array([[100.0]])
    out = run_program("def Predict():\n  s1 = mean(v0)\n",
                      one_task(train_x, np.zeros(1), np.zeros((1, 1)), np.zeros(1)))
    assert out.fitness[0] == 1.0


def test_training_abort_keeps_the_memory_of_the_abort():
    """Abort at the 3rd training Predict: two Learns ran, three Predicts, no validation."""
    out = run_program(COUNTING, one_task(xs(6), np.zeros(6), xs(2), np.zeros(2)),
                      max_abs_error=2.5)
    assert out.fitness[0] == 0.0
    assert out.scalars[0, S["count_predict"]] == 3 and out.scalars[0, S["count_learn"]] == 2
    assert out.scalars[0, 1] == 3.0


def test_later_epoch_abort_keeps_the_best_earlier_epoch():
    n, nv = 5, 5
    orders = np.broadcast_to(np.arange(n), (1, 3, n))
    # epoch 1 predicts 1..5 in training (labels 1..5, error 0) and 6..10 in validation;
    # epoch 2 predicts 11..15 in training: errors 10 > 9.5 abort
    tasks = one_task(xs(n), np.arange(1.0, 6.0), xs(nv), np.arange(6.0, 11.0), orders=orders)
    out = run_program(COUNTING, tasks, max_abs_error=9.5)
    assert out.fitness[0] == 1.0
    assert out.scalars[0, S["count_predict"]] == n + nv + 1  # stopped at epoch 2's first Predict
    assert out.scalars[0, S["count_learn"]] == n


def test_validation_error_above_max_makes_that_epoch_zero():
    n, nv = 5, 5
    train_y = np.arange(6.0, 11.0)  # training errors stay at 5
    valid_y = np.arange(16.0, 21.0)  # epoch 1 predicts 6..10 (errors 10), epoch 2 16..20
    one_epoch = one_task(xs(n), train_y, xs(nv), valid_y)
    assert run_program(COUNTING, one_epoch).fitness[0] == pytest.approx(fitness_of(10.0))
    aborted = run_program(COUNTING, one_epoch, max_abs_error=9.5)
    assert aborted.fitness[0] == 0.0
    # the validation stopped at its first example: later Predicts never ran
    assert aborted.scalars[0, S["count_predict"]] == n + 1
    # with a second epoch, training resumes from that memory and validates perfectly:
    # training predicts 1..5 then 7..11 (labels 4..8, errors 3); validation 6 (error 6 > 5.5,
    # abort) then 12..16 (exact)
    orders = np.broadcast_to(np.arange(n), (1, 2, n))
    two = one_task(xs(n), np.arange(4.0, 9.0), xs(nv), np.arange(12.0, 17.0), orders=orders)
    out = run_program(COUNTING, two, max_abs_error=5.5)
    assert out.fitness[0] == 1.0
    assert out.scalars[0, S["count_predict"]] == n + 1 + n + nv


def test_nan_prediction_in_validation_makes_the_epoch_zero():
    valid_x = np.array([[1.0], [math.nan], [1.0]])
    out = run_program("def Predict():\n  s1 = mean(v0)\n",
                      one_task(np.ones((2, 1)), np.ones(2), valid_x, np.ones(3)))
    assert out.fitness[0] == 0.0


def test_nan_in_memory_is_harmless_until_it_reaches_the_prediction():
    program = "def Setup():\n  s2 = nan\n  v1[0] = inf\ndef Predict():\n  s3 = s2 + s2\n"
    out = run_program(program, one_task(xs(2), np.zeros(2), xs(2), np.zeros(2)))
    assert out.fitness[0] == 1.0


# ---------------------------------------------------------------------------------------------
# Classification (ACCURACY): sigmoid into s1 during training only


def accuracy_task(train_x, train_y, valid_x, valid_y):
    return one_task(train_x, train_y, valid_x, valid_y, eval_type="accuracy")


def test_accuracy_sigmoid_is_written_into_s1_during_training_only():
    program = """\
def Setup():
  s2 = 2.0
def Predict():
  s7 = s1 + s4
  s1 = s2 + s4
def Learn():
  s6 = s1 + s4
  s8 = s7 + s4
"""
    tasks = accuracy_task(xs(3), np.ones(3), xs(2), np.ones(2))
    out = run_program(program, tasks)
    sig2 = 1.0 / (1.0 + math.exp(-2.0))
    assert out.scalars[0, 6] == sig2  # Learn saw the normalized prediction
    assert out.scalars[0, 8] == sig2  # and it persisted into the next training Predict
    assert out.scalars[0, 1] == 2.0  # validation leaves the raw logit in memory
    assert out.scalars[0, 7] == 2.0  # ... which the next validation Predict saw
    assert out.fitness[0] == 1.0
    rms = run_program(program, one_task(xs(3), np.ones(3), xs(2), np.ones(2)))
    assert rms.scalars[0, 6] == 2.0  # regression: no normalization at all


def test_accuracy_counts_sigmoid_above_one_half():
    logits = np.array([2.0, -1.0, 0.0, 3.0, -1.0, 1e-9, -40.0, 40.0])
    labels = np.array([1.0, 1.0, 0.0, 0.0, 0.5, 1.0, 0.0, 1.0])
    # correct:          yes   no   yes(0→0) no  yes(0.5 is negative) yes yes yes
    tasks = accuracy_task(np.zeros((1, 1)), [1.0], logits[:, None], labels)
    out = run_program("def Predict():\n  s1 = mean(v0)\n", tasks)
    assert out.fitness[0] == 1.0 - 2 / 8


def test_accuracy_nan_logit_in_validation_predicts_class_0_without_abort():
    tasks = accuracy_task(np.zeros((1, 1)), [1.0], np.array([[math.nan], [math.nan]]),
                          np.array([0.0, 1.0]))
    out = run_program("def Predict():\n  s1 = mean(v0)\n", tasks)
    assert out.fitness[0] == 0.5


def test_accuracy_nan_logit_in_training_aborts_but_large_logits_do_not():
    program = "def Predict():\n  s1 = mean(v0)\n"
    nan_train = accuracy_task(np.array([[1.0], [math.nan]]), [1.0, 1.0], np.ones((1, 1)), [1.0])
    assert run_program(program, nan_train).fitness[0] == 0.0
    huge = accuracy_task(np.array([[1e6], [-1e6]]), [0.0, 1.0], np.ones((1, 1)), [1.0])
    assert run_program(program, huge).fitness[0] == 1.0


# ---------------------------------------------------------------------------------------------
# Step caps (the FEC run's N_all and N_valid)


def test_max_valid_steps_divides_by_the_full_validation_size():
    tasks = one_task(xs(2), np.zeros(2), xs(4), np.ones(4))
    empty = parse("")
    assert run_program(empty, tasks).fitness[0] == 0.5
    capped = run_program(empty, tasks, max_valid_steps=2)
    assert capped.fitness[0] == pytest.approx(fitness_of(math.sqrt(2 / 4)), rel=1e-15)
    assert run_program(empty, tasks, max_valid_steps=10).fitness[0] == 0.5


def test_max_valid_steps_limits_the_predicts_run():
    out = run_program(COUNTING, one_task(xs(2), np.zeros(2), xs(5), np.zeros(5)),
                      max_valid_steps=3, max_abs_error=1e9)
    assert out.scalars[0, S["count_predict"]] == 2 + 3


def test_max_train_steps_caps_training_across_epochs():
    n, nv = 4, 2
    orders = np.broadcast_to(np.arange(n), (1, 3, n))
    tasks = one_task(xs(n), np.zeros(n), xs(nv), np.zeros(nv), orders=orders)
    out = run_program(COUNTING, tasks, max_train_steps=6, max_abs_error=1e9)
    # epoch 1 (4 steps) and a partial epoch 2 (2 steps), each followed by a validation
    assert out.scalars[0, S["count_learn"]] == 6
    assert out.scalars[0, S["count_predict"]] == 6 + 2 * nv
    out = run_program(COUNTING, tasks, max_train_steps=3, max_abs_error=1e9)
    assert out.scalars[0, S["count_learn"]] == 3
    assert out.scalars[0, S["count_predict"]] == 3 + nv
    out = run_program(COUNTING, tasks, max_train_steps=100, max_abs_error=1e9)
    assert out.scalars[0, S["count_learn"]] == 3 * n  # never more than the epochs hold


# ---------------------------------------------------------------------------------------------
# FEC error recording (record=True)


def test_recording_keeps_first_epoch_training_and_first_validation_errors():
    n, nv = 4, 3
    orders = np.broadcast_to(np.arange(n), (1, 2, n))
    tasks = one_task(xs(n), np.zeros(n), xs(nv), np.full(nv, 10.0), orders=orders)
    out = run_program(COUNTING, tasks, record=True)
    np.testing.assert_array_equal(out.train_errors, [[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_array_equal(out.valid_errors, [[5.0, 4.0, 3.0]])  # |10 - (5, 6, 7)|
    np.testing.assert_array_equal(out.n_train_errors, [n])
    np.testing.assert_array_equal(out.n_valid_errors, [nv])
    assert run_program(COUNTING, tasks).train_errors is None


def test_recording_is_limited_to_100_training_steps():
    out = run_program(COUNTING, one_task(np.zeros((150, 1)), np.zeros(150), np.zeros((1, 1)),
                                         np.zeros(1)), record=True, max_abs_error=1e9)
    assert FEC_RECORD_LIMIT == 100
    assert out.train_errors.shape == (1, 100)
    np.testing.assert_array_equal(out.train_errors[0], np.arange(1.0, 101.0))
    capped = run_program(COUNTING, one_task(np.zeros((150, 1)), np.zeros(150), np.zeros((2, 1)),
                                            np.zeros(2)), record=True, max_train_steps=10)
    assert capped.train_errors.shape == (1, 10) and capped.valid_errors.shape == (1, 2)


def test_recording_stops_at_an_abort():
    tasks = make_taskset(np.zeros((2, 5, 1)), np.zeros((2, 5)), np.zeros((2, 2, 1)),
                         np.zeros((2, 2)))
    tasks_train_y = tasks.train_y
    tasks_train_y[1] = [0.0, 0.0, 100.0, 100.0, 100.0]  # task 1 has errors ≤ 100 only
    out = run_program("def Setup():\n  s3 = 1.0\ndef Predict():\n  s5 = s5 + s3\n"
                      "  s1 = s5 * s5\n", tasks, record=True, max_abs_error=5.0)
    # task 0: errors 1, 4, 9 (> 5: abort, not recorded); task 1: 1, 4, 91 (abort at step 3)
    np.testing.assert_array_equal(out.n_train_errors, [2, 2])
    np.testing.assert_array_equal(out.train_errors[:, :2], [[1.0, 4.0], [1.0, 4.0]])
    np.testing.assert_array_equal(out.n_valid_errors, [0, 0])
    np.testing.assert_array_equal(out.fitness, [0.0, 0.0])
