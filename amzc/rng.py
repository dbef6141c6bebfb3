"""The one random generator of amzc: counter-based SplitMix64 (docs/randomness.md).

A stream is a 64-bit *key*; its n-th 64-bit output is ``mix64(key + (n + 1) * GOLDEN)``, the
n-th output of SplitMix64 started at state ``key``. Because an output depends only on (key, n),
any backend reproduces a stream exactly, in any order, with a few integer instructions: the
LLVM backend emits the same arithmetic in IR. Keys are derived from seeds with
:func:`derive_key`, so every task, phase and purpose has its own independent stream.

Conversions (also fixed, so that both backends agree):
- uniform01: ``((bits >> 12) + 0.5) * 2**-52``, in the open interval (0, 1) (52 bits, so that
  the largest value, 1 - 2**-53, is exact and below 1);
- uniform(lo, hi): ``lo + (hi - lo) * u``, or ``lo`` itself when ``lo >= hi`` (as the reference);
  one output per value;
- gaussian(mean, std): Box-Muller, ``mean + std * (sqrt(-2 ln u1) * cos(2π u2))`` with u1, u2
  two consecutive outputs; two outputs per value.
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
KEY_ROOT = 0x6A09E667F3BCC908  # an arbitrary odd-looking start so derive_key() of nothing ≠ 0
TWO_PI = 6.283185307179586
UNIFORM_SHIFT = 12  # keep the top 52 bits
UNIFORM_SCALE = 1.0 / (1 << 52)

_GOLDEN = np.uint64(GOLDEN)
_MIX1 = np.uint64(MIX1)
_MIX2 = np.uint64(MIX2)


def mix64(z: int) -> int:
    """SplitMix64's finalizer on a Python int."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return z ^ (z >> 31)


def derive_key(*parts: int) -> int:
    """A stream key from a path of integers, e.g. ``derive_key(seed, task_index)``."""
    key = KEY_ROOT
    for part in parts:
        key = mix64((key ^ (int(part) & MASK64)) + GOLDEN)
    return key


def uniform_index(key: int, counter: int, n: int) -> int:
    """``int(u * n)`` for the uniform of output ``counter`` of stream ``key``: an index in
    [0, n), as the evolution's tournaments draw them (the LLVM backend emits the same
    arithmetic, so the native tournament picks the same parents)."""
    return int(((mix64(key + (counter + 1) * GOLDEN) >> UNIFORM_SHIFT) + 0.5)
               * UNIFORM_SCALE * n)


def uniform_indices(key: int, start: int, count: int, n: int) -> list[int]:
    """``[uniform_index(key, c, n) for c in range(start, start + count)]``, vectorized."""
    u = uniform01(np.array([key], np.uint64), start, count)[0]
    return (u * float(n)).astype(np.int64).tolist()


def _mix64_array(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def bits(keys: np.ndarray, start: int, n: int) -> np.ndarray:
    """Outputs ``start .. start+n-1`` of every key: shape (len(keys), n), uint64."""
    counters = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix64_array(np.asarray(keys, np.uint64)[:, None] + counters[None, :] * _GOLDEN)


def uniform01(keys: np.ndarray, start: int, n: int) -> np.ndarray:
    top = bits(keys, start, n) >> np.uint64(UNIFORM_SHIFT)
    return (top.astype(np.float64) + 0.5) * UNIFORM_SCALE


def box_muller(u: np.ndarray) -> np.ndarray:
    """Standard normals from pairs of uniforms along the last axis (u1, u2, u1, u2, ...)."""
    u1, u2 = u[..., 0::2], u[..., 1::2]
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(TWO_PI * u2)


class Streams:
    """One stream per task of a batch, advanced in lockstep: every task executes the same
    program, so every task has drawn the same number of outputs at any point."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.counter = 0

    def _take(self, n: int) -> np.ndarray:
        u = uniform01(self.keys, self.counter, n)
        self.counter += n
        return u

    def skip(self, n: int) -> None:
        """Move past ``n`` outputs without computing them (a fill whose values nothing
        reads)."""
        self.counter += n

    def uniform(self, lo: float, hi: float, shape: tuple[int, ...] = ()) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        u = self._take(n)  # drawn even when lo >= hi, so the stream position never depends on data
        if not lo < hi:  # also when either bound is NaN: absl returns lo
            return np.full((len(self.keys), *shape), lo, dtype=np.float64)
        return (lo + (hi - lo) * u).reshape(len(self.keys), *shape)

    def gaussian(self, mean: float, std: float, shape: tuple[int, ...] = ()) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        z = box_muller(self._take(2 * n))
        return (mean + std * z).reshape(len(self.keys), *shape)


def normal_array(key: int, n: int, start: int = 0) -> np.ndarray:
    """``n`` standard normals from one stream, as used for task data."""
    with np.errstate(all="ignore"):
        return box_muller(uniform01(np.array([key], np.uint64), start, 2 * n))[0]


def permutation(key: int, n: int, rounds: int) -> list[np.ndarray]:
    """The orders of epochs 1..rounds: each a Fisher-Yates shuffle of the previous order
    (epoch 0 is the identity, as in the reference)."""
    order = np.arange(n)
    out = []
    u = uniform01(np.array([key], np.uint64), 0, max(n - 1, 0) * rounds)[0]
    k = 0
    for _ in range(rounds):
        order = order.copy()
        for i in range(n - 1, 0, -1):
            j = int(u[k] * (i + 1))
            k += 1
            order[i], order[j] = order[j], order[i]
        out.append(order)
    return out
