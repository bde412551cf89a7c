"""Toeplitz products over GF(2) on bit-packed words with the CPU's carry-less multiply.

Bits are packed 64 to a word, so a polynomial over GF(2) is a polynomial in z = x^64 whose
coefficients are 64-bit words, and a word product is one PCLMULQDQ (Intel, "Carry-less
multiplication and its usage for computing the GCM mode", 2014): 128 bits, kept as a (lo, hi)
pair until the end. The rows of T x that privacy amplification needs are a window of the
product seed · x, i.e. a Toeplitz matrix of words times a vector of words, which is computed
with the transposed Karatsuba step (the middle product of Hanrot, Quercia and Zimmermann, "The
middle product algorithm I", AAECC 14 (2004)): for T = [[T0, T-], [T+, T0]] with h x h Toeplitz
blocks,

    y0 = T0 (b0 + b1) + (T- + T0) b1,    y1 = T0 (b0 + b1) + (T+ + T0) b0,

three half-size products instead of four, and sums of Toeplitz blocks are Toeplitz again (their
defining vectors add). Small blocks use the schoolbook product. Everything is exact: no
rounding argument is needed, unlike the FFT path.

The kernels are compiled by numba on first use (cached on disk), never at import, and only where
the host CPU has PCLMULQDQ; elsewhere `available()` is False and callers use the FFT.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from functools import cache
from typing import cast

import numpy as np
from numpy.typing import NDArray

__all__ = ["available", "toeplitz_window"]

_Words = NDArray[np.uint64]
_Kernel = Callable[[_Words, _Words, int, int, _Words, _Words], None]


@cache
def available() -> bool:
    """Whether this CPU and interpreter can run the carry-less kernels (x86-64 PCLMULQDQ)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        import numba  # noqa: F401  (the kernels are compiled by numba, in the `sim` extra)
        from llvmlite import binding
    except ImportError:
        return False
    return bool(binding.get_host_cpu_features().get("pclmul", False))


def toeplitz_window(seed: _Words, x: _Words, first: int, count: int) -> tuple[_Words, _Words]:
    """Words `first .. first + count - 1` of the product seed · x, as (lo, hi) halves.

    Word k of the product is lo[k] ^ hi[k - 1] where lo[k] ^ (hi[k] << 64) is the 128-bit sum
    of the carry-less products seed[i] · x[j] over i + j = k (the callers combine the halves).
    """
    lo = np.zeros(count, dtype=np.uint64)
    hi = np.zeros(count, dtype=np.uint64)
    if count > 0 and x.shape[0] > 0 and seed.shape[0] > 0:
        _kernel()(seed, x, first, count, lo, hi)
    return lo, hi


@cache
def _kernel() -> _Kernel:
    """The compiled window kernel (numba compiles it on the first call, or loads its cache)."""
    from protocols.bb84 import _gf2_kernels

    return cast(_Kernel, _gf2_kernels.window)
