"""Toeplitz hashing over GF(2), computed exactly with a real FFT.

A Toeplitz matrix T (m x n, T[i, j] = s[i - j + n - 1]) drawn from n + m - 1 uniform seed bits is
a 2-universal family (Krawczyk, CRYPTO '94; Carter & Wegman 1979). Privacy amplification uses
the modified form of Hayashi & Tsurumaru, "More efficient privacy amplification with less random
seeds via dual universal hash function", IEEE Trans. Inf. Theory 62 (2016): k = x_A ⊕ T x_B with
x = (x_A | x_B), |x_A| = ℓ, T of size ℓ x (n - ℓ) — still universal_2, with an (n - 1)-bit seed
and a convolution of length n - 1 instead of n + ℓ - 1.

T x is the middle part of the integer convolution s * x, reduced mod 2. Computed in float64 with
a real FFT of a 5-smooth length: each output is a sum of at most n products of 0/1, so for
n <= 2^24 the rounding error of the FFT (~1e-16 · n · log n) stays far below 1/2 and `rint` is
exact (checked against the direct product in the tests). A few rows (verification tags) are
computed directly on bit-packed words instead, which is an order of magnitude cheaper.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from protocols.errors import LocalProtocolError

__all__ = ["MAX_TOEPLITZ_BITS", "fast_length", "privacy_amplify", "toeplitz_multiply"]

MAX_TOEPLITZ_BITS = 1 << 24
_PACKED_ROWS = 256


def fast_length(minimum: int) -> int:
    """The smallest 2^a 3^b 5^c >= minimum (lengths pocketfft transforms fastest)."""
    best = 1 << max(0, (minimum - 1).bit_length())
    five = 1
    while five < best:
        three = five
        while three < best:
            size = three
            while size < minimum:
                size *= 2
            best = min(best, size)
            three *= 3
        five *= 5
    return best


def toeplitz_multiply(
    seed: NDArray[np.uint8], x: NDArray[np.uint8], rows: int
) -> NDArray[np.uint8]:
    """T x over GF(2) for the rows x len(x) Toeplitz matrix T[i, j] = seed[i - j + len(x) - 1].

    `seed` must hold len(x) + rows - 1 bits.
    """
    n = int(x.shape[0])
    if rows < 0 or seed.shape[0] != n + rows - 1 or n > MAX_TOEPLITZ_BITS:
        raise LocalProtocolError("seed must have len(x) + rows - 1 bits (and len(x) <= 2^24)")
    if rows == 0 or n == 0:
        return np.zeros(rows, dtype=np.uint8)
    if rows <= _PACKED_ROWS:
        return _packed_rows(seed, x, rows)
    # A cyclic convolution of length >= len(seed) has no wrap-around in outputs n-1 .. n+rows-2.
    size = fast_length(n + rows - 1)
    spectrum = np.fft.rfft(x, size)
    spectrum *= np.fft.rfft(seed, size)
    conv = np.fft.irfft(spectrum, size)[n - 1 : n - 1 + rows]
    return ((conv + 0.5).astype(np.int64) & 1).astype(np.uint8)


def _packed_rows(seed: NDArray[np.uint8], x: NDArray[np.uint8], rows: int) -> NDArray[np.uint8]:
    """Few rows (a verification tag): y_i = parity(seed[i : i + n] · reversed(x)), bit-packed.

    Row i needs the seed window starting at bit i; packing the seed at each of the 8 bit
    offsets once makes every window a byte-aligned slice.
    """
    n = int(x.shape[0])
    width = (n + 7) // 8
    target = np.packbits(x[::-1])
    shifted = [np.packbits(seed[r:]) for r in range(min(8, rows))]
    out = np.empty(rows, dtype=np.uint8)
    for i in range(rows):
        window = shifted[i % 8][i // 8 : i // 8 + width].copy()
        if n % 8:
            window[-1] &= (0xFF << (8 - n % 8)) & 0xFF  # bits past the window's end
        out[i] = int(np.bitwise_count(window & target).sum()) & 1
    return out


def privacy_amplify(
    key: NDArray[np.uint8], seed: NDArray[np.uint8], length: int
) -> NDArray[np.uint8]:
    """Hayashi-Tsurumaru modified Toeplitz hash of `key` to `length` bits (seed: n - 1 bits)."""
    n = int(key.shape[0])
    if not 0 <= length < n or seed.shape[0] != n - 1:
        raise LocalProtocolError("need 0 <= length < len(key) and a seed of len(key) - 1 bits")
    if length == 0:
        return np.zeros(0, dtype=np.uint8)
    return key[:length] ^ toeplitz_multiply(seed, key[length:], length)
