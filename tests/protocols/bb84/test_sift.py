"""Sifting kernels against the plain numpy selection they replace."""

from __future__ import annotations

import numpy as np
import pytest

from protocols.bb84._sift import same_pulses, sift
from protocols.errors import LocalProtocolError


@pytest.mark.parametrize("n", [0, 1, 7, 10_001])
def test_sift_matches_the_numpy_selection(n: int) -> None:
    rng = np.random.default_rng(n)
    mine = (rng.random(n) < 0.3).astype(np.uint8)
    theirs = (rng.random(n) < 0.3).astype(np.uint8)
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    classes = rng.integers(0, 3, n, dtype=np.uint8)
    match = mine == theirs
    key = match & (mine == 0)
    test = match & (mine == 1)

    plain = sift(mine, theirs, bits)
    assert np.array_equal(plain.key, bits[key])
    assert np.array_equal(plain.test, bits[test])

    with_classes = sift(mine, theirs, bits, classes, 3)
    assert np.array_equal(with_classes.key, bits[key])
    assert np.array_equal(with_classes.test, bits[test])
    assert np.array_equal(with_classes.test_class, classes[test])
    assert with_classes.key_per_class == tuple(
        int(np.count_nonzero(classes[key] == k)) for k in range(3)
    )


def test_sift_rejects_mismatched_or_out_of_range_inputs() -> None:
    ones = np.ones(4, dtype=np.uint8)
    with pytest.raises(LocalProtocolError, match="length"):
        sift(ones, ones[:3], ones)
    with pytest.raises(LocalProtocolError, match="out of range"):
        sift(ones, ones, ones, np.full(4, 3, dtype=np.uint8), 3)


def test_sifted_repr_shows_no_bits() -> None:
    bits = np.array([1, 0, 1, 1] * 8, dtype=np.uint8)
    sifted = sift(np.zeros(32, dtype=np.uint8), np.zeros(32, dtype=np.uint8), bits)
    assert "key=32 bits" in repr(sifted)
    assert "1, 0" not in repr(sifted)
    assert "[1" not in repr(sifted)


def test_same_pulses() -> None:
    a = np.arange(0, 100, 3, dtype=np.int64)
    assert same_pulses(a, a.copy())
    b = a.copy()
    b[-1] += 1
    assert not same_pulses(a, b)
    assert not same_pulses(a, a[:-1])
