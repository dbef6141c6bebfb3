"""Regression tasks generated from (param seed, data seed) as the reference C++ code's
linear and teacher-network task creators do, with amzc's own random streams (amzc.rng)."""

from __future__ import annotations

import numpy as np

from amzc.rng import derive_key, normal_array, uniform01

# Stream purposes, mixed into the keys so that no two uses share a stream.
FEATURES, WEIGHTS, SHUFFLE, SCALES = 1, 2, 3, 4


def features(data_seed: int, n: int, f: int, scale_spread: float = 1.0) -> np.ndarray:
    """n examples of F normal features (training examples first, then validation): standard
    normal, or with ``scale_spread`` > 1 feature i scaled by s_i, log-uniform in
    [1/scale_spread, scale_spread] and drawn per task (from the data seed).

    Why scales: on isotropic inputs the least-squares weights are E[x·y], which the Hebbian
    rule ``w += lr·y·x`` accumulates without any error term, so a search on such tasks
    cannot tell it from SGD. With unequal scales it converges to Σw instead of w."""
    x = normal_array(derive_key(data_seed, FEATURES), n * f).reshape(n, f)
    if scale_spread == 1.0:
        return x  # exactly the isotropic draw, not a multiplication by ones
    u = uniform01(np.array([derive_key(data_seed, SCALES)], np.uint64), 0, f)[0]
    return x * np.exp((2.0 * u - 1.0) * np.log(scale_spread))


def _params(param_seed: int, n: int) -> np.ndarray:
    return normal_array(derive_key(param_seed, WEIGHTS), n)


def linear(x: np.ndarray, param_seed: int) -> np.ndarray:
    """y = w·x, w ~ N(0, I); no bias, no noise."""
    w = _params(param_seed, x.shape[1])
    return x @ w


def affine(x: np.ndarray, param_seed: int) -> np.ndarray:
    """y = w·x + b (the paper's §4.1 affine variant), w and b ~ N(0, 1)."""
    p = _params(param_seed, x.shape[1] + 1)
    return x @ p[:-1] + p[-1]


def nonlinear(x: np.ndarray, param_seed: int) -> np.ndarray:
    """The teacher network y = u·relu(M x) of the reference code, with hidden units 0 and 2
    disabled as in the reference code (rows 0 and 2 of M and entries 0 and 2 of u are zero)."""
    f = x.shape[1]
    p = _params(param_seed, f * f + f)
    m = p[: f * f].reshape(f, f).copy()
    u = p[f * f :].copy()
    m[[0, 2], :] = 0.0
    u[[0, 2]] = 0.0
    return np.maximum(x @ m.T, 0.0) @ u


GENERATORS = {"linear": linear, "affine": affine, "nonlinear": nonlinear}
MIN_FEATURES = {"linear": 1, "affine": 1, "nonlinear": 3}
