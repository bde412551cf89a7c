"""Toeplitz hashing: the FFT product equals the direct GF(2) product, also at 2^20 bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.bb84._toeplitz import fast_length, privacy_amplify, toeplitz_multiply
from protocols.errors import LocalProtocolError


def direct(seed: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    n = x.shape[0]
    if rows == 0:
        return np.zeros(0, np.uint8)
    matrix = np.array(
        [[seed[i - j + n - 1] for j in range(n)] for i in range(rows)], dtype=np.int64
    )
    return (matrix @ x.astype(np.int64) % 2).astype(np.uint8)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 120), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_matches_direct_product(n: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8) if rows else np.zeros(n - 1, np.uint8)
    assert np.array_equal(toeplitz_multiply(s, x, rows), direct(s, x, rows))


def test_exact_at_a_million_bits() -> None:
    # Worst case for FFT rounding: all-ones input and seed give sums up to n; spot-check rows.
    rng = np.random.default_rng(7)
    n, rows = 1 << 20, 1 << 19
    for x, s in (
        (np.ones(n, np.uint8), np.ones(n + rows - 1, np.uint8)),
        (rng.integers(0, 2, n, dtype=np.uint8), rng.integers(0, 2, n + rows - 1, dtype=np.uint8)),
    ):
        y = toeplitz_multiply(s, x, rows)
        for i in (0, 1, rows // 3, rows - 1):
            window = s[i : i + n][::-1]  # T[i, j] = s[i - j + n - 1]
            assert y[i] == int(np.dot(window.astype(np.int64), x)) & 1


def test_privacy_amplification_is_modified_toeplitz() -> None:
    rng = np.random.default_rng(3)
    key = rng.integers(0, 2, 200, dtype=np.uint8)
    seed = rng.integers(0, 2, 199, dtype=np.uint8)
    out = privacy_amplify(key, seed, 80)
    assert np.array_equal(out, key[:80] ^ direct(seed, key[80:], 80))
    assert privacy_amplify(key, seed, 0).shape == (0,)


def test_bad_sizes_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        toeplitz_multiply(np.zeros(5, np.uint8), np.zeros(4, np.uint8), 3)
    with pytest.raises(LocalProtocolError):
        privacy_amplify(np.zeros(10, np.uint8), np.zeros(9, np.uint8), 10)


def test_fast_length() -> None:
    assert fast_length(1) == 1
    assert fast_length(1000) == 1000
    assert fast_length(1001) == 1024
    assert fast_length(999_999) == 1_000_000
    for size in (7, 77, 7777):
        value = fast_length(size)
        assert value >= size
        rest = value
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        assert rest == 1


@pytest.mark.parametrize("rows", [1, 50, 256, 257])
def test_packed_and_fft_paths_agree(rows: int) -> None:
    rng = np.random.default_rng(rows)
    n = 100_003
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8)
    y = toeplitz_multiply(s, x, rows)
    for i in {0, rows // 2, rows - 1}:
        assert y[i] == int(np.dot(s[i : i + n][::-1].astype(np.int64), x)) & 1
