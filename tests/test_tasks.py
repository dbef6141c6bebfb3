"""amzc.tasks: TaskSpec → build_tasks → TaskSet (docs/data.md, docs/evolution.md)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from amzc.errors import AmzConfigError
from amzc.rng import derive_key, normal_array
from amzc.tasks import TaskSpec, build_tasks
from amzc.tasks import regression as reg
from amzc.tasks.taskset import TaskSet


def weights(param_seed: int, n: int) -> np.ndarray:
    """Task parameters come from stream derive_key(param_seed, 2) (docs/randomness.md)."""
    return normal_array(derive_key(param_seed, 2), n)


@pytest.mark.parametrize("kind", ["linear", "affine", "nonlinear"])
def test_shapes_and_ids(kind):
    spec = TaskSpec(kind, features=5, num_train=7, num_valid=3, num_tasks=4, epochs=2,
                    first_task_id=10)
    ts = build_tasks(spec)
    assert ts.eval_type == "rms" and ts.name == kind
    assert ts.train_x.shape == (4, 7, 5) and ts.train_y.shape == (4, 7)
    assert ts.valid_x.shape == (4, 3, 5) and ts.valid_y.shape == (4, 3)
    assert ts.train_order.shape == (4, 2, 7)
    assert (ts.num_tasks, ts.features, ts.num_train, ts.num_valid, ts.epochs) == (4, 5, 7, 3, 2)
    assert ts.task_ids.tolist() == [10, 11, 12, 13]
    for a in (ts.train_x, ts.train_y, ts.valid_x, ts.valid_y):
        assert a.dtype == np.float64 and np.isfinite(a).all()


@pytest.mark.parametrize("kind", ["linear", "affine", "nonlinear"])
def test_generation_is_deterministic_per_seed(kind):
    spec = TaskSpec(kind, features=4, num_train=20, num_valid=10, num_tasks=3, epochs=3,
                    param_seeds=(5,), data_seeds=(6,))
    a, b = build_tasks(spec), build_tasks(spec)
    for name in ("train_x", "train_y", "valid_x", "valid_y", "train_order"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    other = build_tasks(TaskSpec(kind, features=4, num_train=20, num_valid=10, num_tasks=3,
                                 epochs=3, param_seeds=(50,), data_seeds=(60,)))
    assert not np.array_equal(a.train_x, other.train_x)
    assert not np.array_equal(a.train_y, other.train_y)


def test_features_depend_on_the_data_seed_only_and_labels_on_both():
    base = dict(features=4, num_train=30, num_valid=10, num_tasks=1)
    a = build_tasks(TaskSpec("linear", param_seeds=(1,), data_seeds=(9,), **base))
    b = build_tasks(TaskSpec("linear", param_seeds=(2,), data_seeds=(9,), **base))
    c = build_tasks(TaskSpec("linear", param_seeds=(1,), data_seeds=(8,), **base))
    np.testing.assert_array_equal(a.train_x, b.train_x)
    assert not np.array_equal(a.train_y, b.train_y)
    assert not np.array_equal(a.train_x, c.train_x)


def test_training_examples_come_first_then_validation_from_one_stream():
    def all_x(n, nv):
        ts = build_tasks(TaskSpec("linear", num_train=n, num_valid=nv, num_tasks=1))
        return np.concatenate([ts.train_x[0], ts.valid_x[0]])

    np.testing.assert_array_equal(all_x(10, 5), all_x(12, 3))


def test_features_are_standard_normal():
    x = build_tasks(TaskSpec("linear", features=8, num_train=4000, num_valid=1000,
                             num_tasks=2)).train_x
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1.0) < 0.02
    corr = np.corrcoef(x.reshape(-1, 8).T)
    assert np.abs(corr - np.eye(8)).max() < 0.03


@pytest.mark.parametrize("kind", ["linear", "affine", "nonlinear"])
def test_scale_spread_scales_each_feature_per_task_and_labels_follow(kind):
    base = TaskSpec(kind, features=6, num_train=3000, num_valid=10, num_tasks=2)
    iso = build_tasks(base)
    ts = build_tasks(TaskSpec(kind, features=6, num_train=3000, num_valid=10, num_tasks=2,
                              scale_spread=3.0))
    ratio = ts.train_x / iso.train_x  # the same normal draw, times a scale per feature
    scales = ratio[:, 0, :]
    np.testing.assert_allclose(ratio, scales[:, None, :] * np.ones_like(ratio), rtol=1e-12)
    np.testing.assert_allclose(ts.valid_x / iso.valid_x, ratio[:, :10, :], rtol=1e-12)
    assert np.all((scales >= 1 / 3) & (scales <= 3)) and scales.max() / scales.min() > 2
    assert not np.allclose(scales[0], scales[1])  # drawn per task (from its data seed)
    # labels are the kind's function of the scaled features, with the same parameters
    x = np.concatenate([ts.train_x[1], ts.valid_x[1]])
    expected = reg.GENERATORS[kind](x, base.seeds()[0][1])
    np.testing.assert_allclose(np.concatenate([ts.train_y[1], ts.valid_y[1]]), expected,
                               rtol=1e-12, atol=1e-12)


def test_scale_spread_one_is_exactly_the_isotropic_draw():
    a = build_tasks(TaskSpec("linear", features=4, num_tasks=2))
    b = build_tasks(TaskSpec("linear", features=4, num_tasks=2, scale_spread=1))
    np.testing.assert_array_equal(a.train_x, b.train_x)


@pytest.mark.parametrize("kind", ["linear", "affine", "nonlinear"])
def test_feature_scales_multiply_task_k_by_the_kth_scale_cycling_and_labels_follow(kind):
    base = TaskSpec(kind, features=4, num_train=20, num_valid=5, num_tasks=5)
    plain = build_tasks(base)
    ts = build_tasks(replace(base, feature_scales=(0.5, 1.0, 2.0)))
    for k, c in enumerate((0.5, 1.0, 2.0, 0.5, 1.0)):
        np.testing.assert_array_equal(ts.train_x[k], plain.train_x[k] * c)
        np.testing.assert_array_equal(ts.valid_x[k], plain.valid_x[k] * c)
        x = np.concatenate([ts.train_x[k], ts.valid_x[k]])
        np.testing.assert_allclose(np.concatenate([ts.train_y[k], ts.valid_y[k]]),
                                   reg.GENERATORS[kind](x, base.seeds()[0][k]), rtol=1e-12,
                                   atol=1e-12)
    assert not np.allclose(ts.train_y[0], plain.train_y[0])


def test_feature_scales_take_any_sequence_of_real_numbers_as_a_tuple_of_floats():
    spec = TaskSpec("linear", feature_scales=[np.float32(0.5), np.int64(2)])  # type: ignore[arg-type]
    assert spec.feature_scales == (0.5, 2.0) and hash(spec) == hash(
        TaskSpec("linear", feature_scales=(0.5, 2.0)))
    build_tasks(spec)


def test_feature_scales_make_sgd_without_a_step_size_converge_on_small_inputs():
    """Why the option exists: w += (y − ŷ)·x (no learning rate) converges on inputs of norm
    about 1 (|x|² ≈ 1 at scale 0.35 for F = 8) and diverges on standard normal ones."""
    def sgd_error(scale: float) -> float:
        ts = build_tasks(TaskSpec("linear", features=8, num_train=100, num_tasks=1,
                                  feature_scales=(scale,), param_seeds=(5,)))
        w = np.zeros(8)
        for x, y in zip(ts.train_x[0], ts.train_y[0], strict=True):
            w = w + (y - w @ x) * x
        return float(np.linalg.norm(w - weights(5, 8)) / np.linalg.norm(weights(5, 8)))

    assert sgd_error(0.35) < 1e-3
    assert not sgd_error(1.0) < 1.0  # diverged (inf or nan)


def test_scale_spread_makes_the_hebbian_weights_wrong():
    """Why the option exists: on isotropic inputs E[x·y] is the least-squares weight vector
    (what the error-free Hebbian rule accumulates); on scaled inputs it is not."""
    def hebbian_error(spread: float) -> float:
        ts = build_tasks(TaskSpec("linear", features=8, num_train=20000, num_tasks=1,
                                  scale_spread=spread, param_seeds=(5,)))
        x, y = ts.train_x[0], ts.train_y[0]
        hebb = x.T @ y / len(y)
        return float(np.linalg.norm(hebb - weights(5, 8)) / np.linalg.norm(weights(5, 8)))

    assert hebbian_error(1.0) < 0.05
    assert hebbian_error(3.0) > 0.5


def test_linear_labels_are_w_dot_x_without_bias_or_noise():
    ts = build_tasks(TaskSpec("linear", features=4, num_train=50, num_valid=20, num_tasks=2,
                              param_seeds=(3, 4)))
    for k, seed in enumerate((3, 4)):
        w = weights(seed, 4)
        np.testing.assert_allclose(ts.train_y[k], ts.train_x[k] @ w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ts.valid_y[k], ts.valid_x[k] @ w, rtol=1e-12, atol=1e-12)
        # independently: least squares recovers w with zero residual, and y(0) would be 0
        fit, residual, *_ = np.linalg.lstsq(ts.train_x[k], ts.train_y[k], rcond=None)
        np.testing.assert_allclose(fit, w, rtol=1e-10)
        assert residual.item() < 1e-20


def test_affine_labels_have_a_bias():
    ts = build_tasks(TaskSpec("affine", features=3, num_train=40, num_valid=5, num_tasks=1,
                              param_seeds=(8,)))
    p = weights(8, 4)
    np.testing.assert_allclose(ts.train_y[0], ts.train_x[0] @ p[:3] + p[3], rtol=1e-12)
    design = np.hstack([ts.train_x[0], np.ones((40, 1))])
    fit, *_ = np.linalg.lstsq(design, ts.train_y[0], rcond=None)
    np.testing.assert_allclose(fit, p, rtol=1e-10)
    assert abs(p[3]) > 1e-3  # a real bias, so affine differs from linear


@pytest.mark.parametrize("f", [3, 4, 8])
def test_nonlinear_teacher_has_hidden_units_0_and_2_zeroed(f):
    """y = u·relu(M x), rows 0 and 2 of M and entries 0 and 2 of u zero, as in the reference."""
    ts = build_tasks(TaskSpec("nonlinear", features=f, num_train=60, num_valid=10, num_tasks=1,
                              param_seeds=(21,)))
    p = weights(21, f * f + f)
    m, u = p[: f * f].reshape(f, f).copy(), p[f * f:].copy()
    full = np.maximum(ts.train_x[0] @ m.T, 0.0) @ u
    m[[0, 2]] = 0.0
    u[[0, 2]] = 0.0
    hidden = np.maximum(ts.train_x[0] @ m.T, 0.0)
    np.testing.assert_allclose(ts.train_y[0], hidden @ u, rtol=1e-12, atol=1e-12)
    assert not np.allclose(ts.train_y[0], full)  # the zeroing changes the labels
    assert (hidden[:, [0, 2]] == 0).all()


def test_nonlinear_is_not_linear():
    ts = build_tasks(TaskSpec("nonlinear", features=4, num_train=200, num_valid=10, num_tasks=1))
    _, residual, *_ = np.linalg.lstsq(ts.train_x[0], ts.train_y[0], rcond=None)
    assert residual.item() > 1e-3 * float(ts.train_y[0] @ ts.train_y[0])
    assert (ts.train_y != 0).any()


def test_default_seed_lists_and_continuation():
    """The reference's default seed lists, then previous seed + 1."""
    params, data = TaskSpec(num_tasks=10).seeds()
    assert params == [1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003, 1004, 1005]
    assert data == [11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003, 11004, 11005]
    params, data = TaskSpec(num_tasks=3).seeds()
    assert params == [1001, 1012, 1010] and data == [11001, 11012, 11010]
    params, data = TaskSpec(num_tasks=4, param_seeds=(2000000,), data_seeds=(5, 9)).seeds()
    assert params == [2000000, 2000001, 2000002, 2000003]
    assert data == [5, 9, 10, 11]


def test_tasks_of_a_spec_use_their_seeds():
    """Task i of a spec equals a one-task spec with task i's seeds."""
    spec = TaskSpec("linear", num_train=10, num_valid=4, num_tasks=3, param_seeds=(40,),
                    data_seeds=(70, 80))
    ts = build_tasks(spec)
    for i, (p, d) in enumerate([(40, 70), (41, 80), (42, 81)]):
        alone = build_tasks(TaskSpec("linear", num_train=10, num_valid=4, num_tasks=1,
                                     param_seeds=(p,), data_seeds=(d,)))
        np.testing.assert_array_equal(ts.train_x[i], alone.train_x[0])
        np.testing.assert_array_equal(ts.valid_y[i], alone.valid_y[0])


def test_reseeded():
    spec = TaskSpec(num_tasks=3)
    assert spec.reseeded(0) is spec
    a, b, c = spec.reseeded(1), spec.reseeded(1), spec.reseeded(2)
    assert a == b and a != c
    assert len(a.param_seeds) == 1 and len(a.data_seeds) == 1
    params, data = a.seeds()
    assert params == [params[0] + i for i in range(3)] and data == [data[0] + i for i in range(3)]
    assert 0 <= params[0] < 2**31 and 0 <= data[0] < 2**31


def test_epoch_orders_are_permutations_and_epoch_0_is_identity():
    ts = build_tasks(TaskSpec("linear", num_train=25, num_valid=5, num_tasks=3, epochs=4))
    for k in range(3):
        np.testing.assert_array_equal(ts.train_order[k, 0], np.arange(25))
        for e in range(1, 4):
            assert sorted(ts.train_order[k, e].tolist()) == list(range(25))
            assert not np.array_equal(ts.train_order[k, e], ts.train_order[k, e - 1])
    assert not np.array_equal(ts.train_order[0, 1], ts.train_order[1, 1])  # per-task shuffles


def test_epoch_orders_depend_on_the_data_seed_and_extend_consistently():
    def orders(epochs, data_seed=3):
        return build_tasks(TaskSpec("linear", num_train=12, num_valid=2, num_tasks=1,
                                    epochs=epochs, data_seeds=(data_seed,))).train_order[0]

    np.testing.assert_array_equal(orders(3), orders(5)[:3])  # more epochs only append
    assert not np.array_equal(orders(2, 3)[1], orders(2, 4)[1])


def test_epoch_train_data_follows_the_order():
    ts = build_tasks(TaskSpec("linear", num_train=9, num_valid=2, num_tasks=2, epochs=3))
    for e in range(3):
        x, y = ts.epoch_train_data(e)
        for k in range(2):
            order = ts.train_order[k, e]
            np.testing.assert_array_equal(x[k], ts.train_x[k, order])
            np.testing.assert_array_equal(y[k], ts.train_y[k, order])


def test_subset_keeps_arrays_and_ids():
    ts = build_tasks(TaskSpec("linear", num_train=5, num_valid=2, num_tasks=4, first_task_id=3))
    sub = ts.subset([1, 3])
    assert isinstance(sub, TaskSet) and sub.task_ids.tolist() == [4, 6]
    np.testing.assert_array_equal(sub.train_x, ts.train_x[[1, 3]])
    np.testing.assert_array_equal(ts.subset(slice(2, 3)).valid_y, ts.valid_y[2:3])


@pytest.mark.parametrize(
    "spec, message",
    [
        (TaskSpec("quadratic"), "unknown task"),
        (TaskSpec("nonlinear", features=2), "≥ 3"),
        (TaskSpec("linear", features=0), "features"),
        (TaskSpec("linear", num_train=0), "training"),
        (TaskSpec("linear", num_valid=0), "validation"),
        (TaskSpec("linear", num_tasks=0), "tasks"),
        (TaskSpec("linear", epochs=0), "epochs"),
        (TaskSpec("linear", scale_spread=0.5), r"scale spread must be a number in \[1, 100\]"),
        (TaskSpec("linear", scale_spread=float("nan")), "scale spread"),
        (TaskSpec("linear", scale_spread=1000.0), "scale spread"),
        (TaskSpec("linear", scale_spread=True), "scale spread"),
        (TaskSpec("digits", scale_spread=2.0), "scale_spread applies to task linear and "
         "affine and nonlinear only"),
        (TaskSpec("linear", feature_scales=(0.0,)), r"feature scales must be a list of "
         r"numbers in \[0.01, 100\]"),
        (TaskSpec("linear", feature_scales=(1.0, 1000.0)), "feature scales"),
        (TaskSpec("linear", feature_scales=(True,)), "feature scales"),
        (TaskSpec("linear", feature_scales=(float("nan"),)), "feature scales"),
        (TaskSpec("linear", feature_scales=[[0.5]]), "feature scales"),  # type: ignore[list-item]
        (TaskSpec("digits", feature_scales=(2.0,)), "feature_scales applies to task linear"),
    ],
)
def test_invalid_specs_are_config_errors(spec, message):
    with pytest.raises(AmzConfigError, match=message):
        build_tasks(spec)


def test_generators_table():
    assert set(reg.GENERATORS) == {"linear", "affine", "nonlinear"}
    assert reg.MIN_FEATURES["nonlinear"] == 3
