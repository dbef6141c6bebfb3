"""amzc.rng: the counter-based SplitMix64 generator (docs/randomness.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amzc import rng
from amzc.rng import (
    GOLDEN,
    MASK64,
    Streams,
    bits,
    derive_key,
    mix64,
    uniform01,
    uniform_index,
    uniform_indices,
)

# SplitMix64 seeded with 0: the published first outputs of the reference implementation
# (Vigna's splitmix64.c), i.e. mix64 of GOLDEN, 2·GOLDEN, 3·GOLDEN.
SPLITMIX_SEED0 = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def python_splitmix(key: int, n: int) -> list[int]:
    """The sequential SplitMix64 generator, state += GOLDEN then mix."""
    state, out = key, []
    for _ in range(n):
        state = (state + GOLDEN) & MASK64
        out.append(mix64(state))
    return out


def test_mix64_matches_published_splitmix64_outputs():
    assert python_splitmix(0, 3) == SPLITMIX_SEED0
    assert [int(b) for b in bits(np.array([0], np.uint64), 0, 3)[0]] == SPLITMIX_SEED0


@given(st.integers(0, MASK64), st.integers(0, 1000), st.integers(1, 20))
def test_bits_are_the_sequential_generator_at_any_offset(key, start, n):
    expected = python_splitmix(key, start + n)[start:]
    assert [int(b) for b in bits(np.array([key], np.uint64), start, n)[0]] == expected


def test_bits_of_several_keys_are_independent_rows():
    keys = np.array([1, 2, 3], np.uint64)
    block = bits(keys, 5, 4)
    assert block.shape == (3, 4) and block.dtype == np.uint64
    for row, key in zip(block, keys, strict=True):
        assert [int(b) for b in row] == python_splitmix(int(key), 9)[5:]


def test_uniform01_is_strictly_inside_the_unit_interval():
    u = uniform01(np.arange(16, dtype=np.uint64), 0, 4096)
    assert u.min() > 0.0 and u.max() < 1.0


def _uniform01_of_bits(b: int) -> float:
    """The conversion of docs/randomness.md applied to one 64-bit output, as rng.uniform01 does."""
    top = (np.array([b], np.uint64) >> np.uint64(rng.UNIFORM_SHIFT)).astype(np.float64)[0]
    return float(top + 0.5) * rng.UNIFORM_SCALE


def test_uniform01_lowest_output_is_positive():
    assert _uniform01_of_bits(0) == 2.0**-53


def test_uniform01_highest_output_is_below_one():
    assert _uniform01_of_bits(MASK64) == 1.0 - 2.0**-53


def test_uniform01_conversion():
    key = 99
    b = python_splitmix(key, 3)
    expected = [((x >> 12) + 0.5) * 2.0**-52 for x in b]
    np.testing.assert_array_equal(uniform01(np.array([key], np.uint64), 0, 3)[0], expected)


def test_derive_key_is_a_deterministic_path():
    assert derive_key(1, 2) == derive_key(1, 2)
    assert len({derive_key(), derive_key(0), derive_key(1), derive_key(0, 0), derive_key(0, 1),
                derive_key(1, 0), derive_key(2)}) == 7
    assert derive_key() == rng.KEY_ROOT
    # by definition: key = mix64((key ^ part) + GOLDEN) for each part
    assert derive_key(7) == mix64((rng.KEY_ROOT ^ 7) + GOLDEN)
    assert derive_key(-1) == derive_key(MASK64)  # parts are taken mod 2^64


def test_streams_advance_one_output_per_uniform_and_two_per_gaussian():
    keys = np.array([11, 12], np.uint64)
    s = Streams(keys)
    a = s.uniform(0.0, 1.0, (3,))
    assert s.counter == 3
    g = s.gaussian(0.0, 1.0, (2, 2))
    assert s.counter == 3 + 8
    s.uniform(1.0, 0.0)  # lo >= hi still consumes its output
    assert s.counter == 12
    np.testing.assert_array_equal(a, uniform01(keys, 0, 3))
    np.testing.assert_array_equal(g.reshape(2, 4), rng.box_muller(uniform01(keys, 3, 8)))


def test_streams_are_reproducible():
    draws = []
    for _ in range(2):
        s = Streams(np.array([3, 4], np.uint64))
        draws.append(np.concatenate([s.uniform(-1, 1, (5,)), s.gaussian(2, 3, (5,))], axis=1))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0][0], draws[0][1])  # different keys, different streams


@pytest.mark.parametrize("lo, hi", [(1.0, 0.0), (0.5, 0.5), (math.nan, 1.0), (0.0, math.nan)])
def test_uniform_not_below_returns_lo(lo, hi):
    out = Streams(np.array([1], np.uint64)).uniform(lo, hi, (4,))
    np.testing.assert_array_equal(out, np.full((1, 4), lo))


def test_uniform_distribution_sanity():
    u = Streams(np.array([2024], np.uint64)).uniform(-3.0, 5.0, (200_000,))[0]
    assert u.min() > -3.0 and u.max() < 5.0
    assert abs(u.mean() - 1.0) < 0.03  # sd of the mean: 8/sqrt(12·2e5) ≈ 0.005
    assert abs(u.std() - 8 / math.sqrt(12)) < 0.02
    counts, _ = np.histogram(u, bins=8, range=(-3, 5))
    assert counts.min() > 0.95 * 25_000 and counts.max() < 1.05 * 25_000


def test_gaussian_distribution_sanity():
    g = Streams(np.array([7], np.uint64)).gaussian(2.0, 0.5, (200_000,))[0]
    assert abs(g.mean() - 2.0) < 0.005  # sd of the mean ≈ 0.0011
    assert abs(g.std() - 0.5) < 0.005
    z = (g - 2.0) / 0.5
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 0.005
    assert abs(np.mean(z**3)) < 0.03 and abs(np.mean(z**4) - 3.0) < 0.1


def test_normal_array_is_one_stream_of_box_muller_pairs():
    key = derive_key(5, 1)
    a = rng.normal_array(key, 10)
    pairs = uniform01(np.array([key], np.uint64), 0, 20)
    np.testing.assert_array_equal(a, rng.box_muller(pairs)[0])
    np.testing.assert_array_equal(rng.normal_array(key, 4, start=2), rng.normal_array(key, 5)[1:])


def test_permutations_are_successive_fisher_yates_shuffles():
    orders = rng.permutation(derive_key(1, 3), 50, 4)
    assert len(orders) == 4
    for order in orders:
        assert sorted(order.tolist()) == list(range(50))
    assert not np.array_equal(orders[0], np.arange(50))
    assert not np.array_equal(orders[0], orders[1])
    again = rng.permutation(derive_key(1, 3), 50, 4)
    assert all(np.array_equal(a, b) for a, b in zip(orders, again, strict=True))
    # each epoch shuffles the previous order with the next n-1 uniforms of the same stream
    u = uniform01(np.array([derive_key(1, 3)], np.uint64), 0, 49 * 2)[0]
    order, k = np.arange(50), 0
    for expected in orders[:2]:
        order = order.copy()
        for i in range(49, 0, -1):
            j = int(u[k] * (i + 1))
            k += 1
            order[i], order[j] = order[j], order[i]
        np.testing.assert_array_equal(order, expected)


def test_permutation_edge_sizes():
    assert rng.permutation(1, 5, 0) == []
    assert [o.tolist() for o in rng.permutation(1, 1, 2)] == [[0], [0]]
    assert [o.tolist() for o in rng.permutation(1, 0, 1)] == [[]]


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**40), st.integers(1, 10**6))
def test_uniform_index_is_the_uniform_times_n(key, counter, n):
    """The tournament's draw: int(u * n) of the stream's uniform at that counter."""
    u = uniform01(np.array([key], np.uint64), counter, 1)[0, 0]
    assert uniform_index(key, counter, n) == int(u * n)
    assert 0 <= uniform_index(key, counter, n) < n


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**40), st.integers(0, 50),
       st.integers(1, 10**6))
def test_uniform_indices_are_uniform_index_in_turn(key, start, count, n):
    assert uniform_indices(key, start, count, n) == [uniform_index(key, c, n)
                                                     for c in range(start, start + count)]
