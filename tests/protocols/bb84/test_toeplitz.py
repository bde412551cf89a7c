"""Toeplitz hashing: the carry-less and FFT products equal the direct GF(2) product."""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.bb84 import _gf2
from protocols.bb84._toeplitz import (
    _FOUR_STEP_MIN,
    MAX_TOEPLITZ_BITS,
    _clmul_rows,
    _fft_rows,
    _four_step_convolution,
    _packed_rows,
    _row_count,
    fast_length,
    privacy_amplify,
    toeplitz_multiply,
)
from protocols.errors import LocalProtocolError


def direct(seed: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    n = x.shape[0]
    if rows == 0:
        return np.zeros(0, np.uint8)
    matrix = np.array(
        [[seed[i - j + n - 1] for j in range(n)] for i in range(rows)], dtype=np.int64
    )
    return (matrix @ x.astype(np.int64) % 2).astype(np.uint8)


def direct_convolution(seed: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    """T x by the direct O(n * rows) integer convolution (np.convolve does not use an FFT)."""
    n = x.shape[0]
    full = np.convolve(seed.astype(np.int64), x.astype(np.int64))  # T x = (seed * x)[n - 1 ...]
    return (full[n - 1 : n - 1 + rows] & 1).astype(np.uint8)


def shake_bits(label: bytes, n: int) -> np.ndarray:
    """n deterministic pseudo-random bits, independent of numpy's generators."""
    data = hashlib.shake_256(label).digest((n + 7) // 8)
    return np.unpackbits(np.frombuffer(data, np.uint8))[:n]


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


def test_too_many_rows_are_refused() -> None:
    # rows > 2^24 would push the transform past the length its exactness argument covers.
    rows = MAX_TOEPLITZ_BITS + 1
    with pytest.raises(LocalProtocolError, match="rows"):
        toeplitz_multiply(np.zeros(rows + 1, np.uint8), np.zeros(2, np.uint8), rows)


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
    # Every path computes the same rows (packed: the tag path without a carry-less multiply).
    assert np.array_equal(_fft_rows(s, x, rows), y)
    if rows <= 256:
        assert np.array_equal(_packed_rows(s, x, rows), y)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_four_step_is_the_exact_cyclic_convolution(n1: int, n2: int, data: st.DataObject) -> None:
    # Any split, square or not, odd or even n1 (irfft length), n2 = 1 or n1 = 1 included.
    size = n1 * n2
    len_a = data.draw(st.integers(1, size))
    len_b = data.draw(st.integers(1, size))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = rng.integers(0, 2, len_a, dtype=np.uint8)
    b = rng.integers(0, 2, len_b, dtype=np.uint8)
    linear = np.convolve(a.astype(np.int64), b.astype(np.int64))
    cyclic = np.zeros(size, np.int64)
    np.add.at(cyclic, np.arange(linear.shape[0]) % size, linear)
    result = _four_step_convolution(a, b, n1, n2)
    assert result.shape == (size,)
    assert np.abs(result - cyclic).max() < 1e-9


@pytest.mark.parametrize(
    ("size", "n1"),
    [
        (1 << 15, 128),  # power of two, n2 = 2 n1
        (20_000, 125),  # odd n1, n2 = 160
        (16_875, 125),  # odd length: 3^3 5^4 = 125 x 135
        (30_000, 150),  # 2^4 3 5^4, non-square: 150 x 200
    ],
)
def test_four_step_path_matches_direct_product(size: int, n1: int) -> None:
    assert size >= _FOUR_STEP_MIN
    assert fast_length(size) == size
    assert _row_count(size) == n1
    rng = np.random.default_rng(size)
    n = 7_001
    rows = size - n + 1  # the convolution length toeplitz_multiply picks is exactly `size`
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8)
    assert np.array_equal(toeplitz_multiply(s, x, rows), direct_convolution(s, x, rows))


@settings(max_examples=15, deadline=None)
@given(
    st.integers(_FOUR_STEP_MIN // 4, 30_000), st.integers(257, 20_000), st.integers(0, 2**32 - 1)
)
def test_large_products_match_direct_convolution(n: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8)
    assert np.array_equal(toeplitz_multiply(s, x, rows), direct_convolution(s, x, rows))


@pytest.mark.parametrize(
    ("n", "length", "digest"),
    [
        (1_000_000, 500_000, "d6696d41bdb7bb091123d6950a1b3f0b1a991b2e57ee2405a449d3b2c7bb9ab4"),
        (300_007, 123_456, "b59e1739eca167bc6437a8f91d3a424ccb0ea68d59ec1dfc2f692126b3e94ae8"),
        (20_000, 9_999, "69f3d68a71b1452d42d032863cde616eaacf4715e64c6e166943a4e239eb835d"),
    ],
)
def test_privacy_amplification_vectors(n: int, length: int, digest: str) -> None:
    # SHA-256 of the packed output, recorded with the earlier one-dimensional FFT implementation.
    key = shake_bits(b"key", n)
    seed = shake_bits(b"seed", n - 1)
    out = privacy_amplify(key, seed, length)
    assert hashlib.sha256(np.packbits(out).tobytes()).hexdigest() == digest


def _cpu_has_pclmul() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
        return any(line.startswith("flags") and " pclmulqdq" in line for line in info)


def test_carry_less_path_is_used_where_the_cpu_has_it() -> None:
    # A silent fallback to the FFT would hide a broken kernel from every other test here.
    assert _gf2.available() == _cpu_has_pclmul()


needs_clmul = pytest.mark.skipif(not _gf2.available(), reason="no PCLMULQDQ on this CPU")


@needs_clmul
@settings(max_examples=80, deadline=None)
@given(st.integers(1, 700), st.integers(1, 700), st.integers(0, 2**32 - 1))
def test_carry_less_rows_match_direct_convolution(n: int, rows: int, seed: int) -> None:
    # Sizes around word (64-bit) and tile (16-word) boundaries, both shapes (rows < n, rows > n).
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8)
    assert np.array_equal(_clmul_rows(s, x, rows), direct_convolution(s, x, rows))


@needs_clmul
@pytest.mark.parametrize(
    ("n", "rows"),
    [
        (64 * 16, 64 * 16),  # exactly one schoolbook tile
        (64 * 17 + 1, 64 * 16 - 1),  # one word past the tile: the Karatsuba split
        (70_001, 3_333),  # many column tiles
        (3_333, 70_001),  # many row tiles
        (200_000, 100_000),  # deep recursion
    ],
)
def test_carry_less_and_fft_rows_agree(n: int, rows: int) -> None:
    rng = np.random.default_rng(n ^ rows)
    x = rng.integers(0, 2, n, dtype=np.uint8)
    s = rng.integers(0, 2, n + rows - 1, dtype=np.uint8)
    assert np.array_equal(_clmul_rows(s, x, rows), _fft_rows(s, x, rows))


@needs_clmul
def test_carry_less_all_ones_spot_rows() -> None:
    # All-ones operands: every row's parity is the window length's parity, known in closed form.
    n, rows = 100_000, 50_001
    y = _clmul_rows(np.ones(n + rows - 1, np.uint8), np.ones(n, np.uint8), rows)
    assert np.array_equal(y, np.full(rows, n & 1, np.uint8))


@pytest.mark.parametrize(
    ("n", "length", "digest"),
    [
        (300_007, 123_456, "b59e1739eca167bc6437a8f91d3a424ccb0ea68d59ec1dfc2f692126b3e94ae8"),
        (20_000, 9_999, "69f3d68a71b1452d42d032863cde616eaacf4715e64c6e166943a4e239eb835d"),
    ],
)
def test_fft_path_keeps_the_vectors(n: int, length: int, digest: str) -> None:
    # The fallback on CPUs without a carry-less multiply gives the same hashes.
    key = shake_bits(b"key", n)
    seed = shake_bits(b"seed", n - 1)
    out = key[:length] ^ _fft_rows(seed, key[length:], length)
    assert hashlib.sha256(np.packbits(out).tobytes()).hexdigest() == digest
