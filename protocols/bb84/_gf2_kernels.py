# numba types these functions itself (at compile time); to mypy, intrinsics and their calls are
# opaque, so the checks that cannot see through them are off here. `_gf2` is the typed boundary.
# mypy: disable-error-code="no-untyped-call,call-arg,var-annotated,unreachable"
"""numba kernels behind `_gf2`: PCLMULQDQ, schoolbook and Karatsuba middle products of words.

Importing this module imports numba (nothing is compiled until the first call); `_gf2` imports
it only on x86-64 CPUs with PCLMULQDQ. The algorithms and their sources are in `_gf2`'s
docstring. Untyped for mypy: numba's decorators erase signatures, `_gf2` types the entry point.
"""

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["window"]

# Blocks of at most this many words use the schoolbook product (measured at 10^6 and 5.3 · 10^6
# bits: 12-40 are within 15 % of each other, 16 the fastest).
BASE_WORDS = 16


@intrinsic
def clmul(typingctx: Any, a: Any, b: Any) -> Any:
    """PCLMULQDQ (imm8 = 0) of two 64-bit words: the 128-bit carry-less product as (lo, hi)."""
    signature = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        vector = ir.VectorType(ir.IntType(64), 2)
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(vector, [vector, vector, ir.IntType(8)]),
            "llvm.x86.pclmulqdq",
        )
        zero = ir.Constant(vector, [0, 0])
        first = ir.Constant(ir.IntType(32), 0)
        second = ir.Constant(ir.IntType(32), 1)
        left = builder.insert_element(zero, args[0], first)
        right = builder.insert_element(zero, args[1], first)
        product = builder.call(function, [left, right, ir.Constant(ir.IntType(8), 0)])
        low = builder.extract_element(product, first)
        high = builder.extract_element(product, second)
        return context.make_tuple(builder, sig.return_type, [low, high])

    return signature, codegen


@njit(cache=True, nogil=True)
def schoolbook(a: Any, b: Any, lo: Any, hi: Any) -> None:
    """y += T b, T[k, j] = a[k - j + m - 1] (m = len(b) = len(y)), one clmul per entry."""
    m = b.shape[0]
    for k in range(m):
        acc_lo = np.uint64(0)
        acc_hi = np.uint64(0)
        for j in range(m):
            p_lo, p_hi = clmul(a[k - j + m - 1], b[j])
            acc_lo ^= p_lo
            acc_hi ^= p_hi
        lo[k] ^= acc_lo
        hi[k] ^= acc_hi


@njit(cache=True, nogil=True)
def middle(a: Any, b: Any, lo: Any, hi: Any, scratch: Any) -> None:
    """y += T b for the m x m Toeplitz T[k, j] = a[k - j + m - 1]; scratch >= 5 m words."""
    m = b.shape[0]
    if m <= BASE_WORDS or m % 2:
        schoolbook(a, b, lo, hi)
        return
    h = m // 2
    # Blocks: T0 = (0, 0) = (1, 1) with defining vector a[h : 3h - 1], T- = (0, 1) with
    # a[0 : 2h - 1], T+ = (1, 0) with a[2h : 4h - 1] (Hanrot, Quercia, Zimmermann 2004).
    summed = scratch[:h]
    shifted = scratch[h : 3 * h - 1]
    p_lo = scratch[3 * h - 1 : 4 * h - 1]
    p_hi = scratch[4 * h - 1 : 5 * h - 1]
    rest = scratch[5 * h - 1 :]
    for i in range(h):
        summed[i] = b[i] ^ b[h + i]
        p_lo[i] = 0
        p_hi[i] = 0
    middle(a[h : 3 * h - 1], summed, p_lo, p_hi, rest)  # T0 (b0 + b1), shared by both halves
    for i in range(h):
        lo[i] ^= p_lo[i]
        hi[i] ^= p_hi[i]
        lo[h + i] ^= p_lo[i]
        hi[h + i] ^= p_hi[i]
    for t in range(2 * h - 1):
        shifted[t] = a[t] ^ a[h + t]
    middle(shifted, b[h:], lo[:h], hi[:h], rest)  # (T- + T0) b1
    for t in range(2 * h - 1):
        shifted[t] = a[2 * h + t] ^ a[h + t]
    middle(shifted, b[:h], lo[h:], hi[h:], rest)  # (T+ + T0) b0


@njit(cache=True, nogil=True)
def window(seed: Any, x: Any, first: int, count: int, lo: Any, hi: Any) -> None:
    """(lo, hi)[k] = sum_j seed[first + k - j] x[j] for k < count, by m x m Toeplitz tiles."""
    # m = base * 2^r >= min(count, len(x)) with base <= BASE_WORDS, so every level halves
    # evenly down to the schoolbook; the tiles are zero-padded at the edges.
    side = min(count, x.shape[0])
    unit = 1
    while unit * 2 <= BASE_WORDS:
        unit *= 2
    base = (side + unit - 1) // unit
    while base > BASE_WORDS:
        base = (base + 1) // 2
        unit *= 2
    m = base * unit
    a = np.zeros(2 * m - 1, dtype=np.uint64)
    b = np.zeros(m, dtype=np.uint64)
    y_lo = np.zeros(m, dtype=np.uint64)
    y_hi = np.zeros(m, dtype=np.uint64)
    scratch = np.empty(5 * m + 64, dtype=np.uint64)
    ns = seed.shape[0]
    for w0 in range(0, count, m):
        rows = min(m, count - w0)
        y_lo[:] = 0
        y_hi[:] = 0
        for j0 in range(0, x.shape[0], m):
            cols = min(m, x.shape[0] - j0)
            origin = first + w0 - j0 - (m - 1)  # a[t] = seed[origin + t], zero outside
            if origin + 2 * m - 1 <= 0 or origin >= ns:
                continue
            for t in range(2 * m - 1):
                i = origin + t
                a[t] = seed[i] if 0 <= i < ns else np.uint64(0)  # (a bare 0 would unify to float)
            b[:cols] = x[j0 : j0 + cols]
            b[cols:] = 0
            middle(a, b, y_lo, y_hi, scratch)
        lo[w0 : w0 + rows] = y_lo[:rows]
        hi[w0 : w0 + rows] = y_hi[:rows]
