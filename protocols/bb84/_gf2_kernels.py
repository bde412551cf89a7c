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
from llvmlite import binding, ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["window"]

# Blocks of at most this many words use the schoolbook product (measured at 10^6 and 5.3 · 10^6
# bits with the 512-bit kernel: 48-96 are within noise of each other; 32 is 10-40 % slower).
BASE_WORDS = 64


def _pclmulqdq(builder: Any) -> Any:
    """The LLVM intrinsic: <2 x i64> x <2 x i64> -> <2 x i64>, imm8 selects the halves."""
    vector = ir.VectorType(ir.IntType(64), 2)
    return cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(vector, [vector, vector, ir.IntType(8)]),
        "llvm.x86.pclmulqdq",
    )


@intrinsic
def clmul_rows(typingctx: Any, a: Any, b: Any, last: Any, m: Any, rows: Any) -> Any:
    """Rows r < `rows` (1 or 2) of a Toeplitz product: XOR over j < m of
    PCLMULQDQ(a[last + r - j], b[j]), each a 128-bit (lo, hi); unused outputs are 0.

    The sums stay in vector registers, one accumulator per row (independent chains), and the
    two rows share each load of b[j]: a loop in LLVM IR, since numba has no vector type.
    """
    signature = types.UniTuple(types.uint64, 4)(a, b, types.intp, types.intp, types.intp)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        left = context.make_array(sig.args[0])(context, builder, args[0])
        right = context.make_array(sig.args[1])(context, builder, args[1])
        last, m, rows = args[2], args[3], args[4]
        vector = ir.VectorType(ir.IntType(64), 2)
        zero = ir.Constant(vector, [0, 0])
        first = ir.Constant(ir.IntType(32), 0)
        second = ir.Constant(ir.IntType(32), 1)
        imm = ir.Constant(ir.IntType(8), 0)
        one = ir.Constant(last.type, 1)
        pclmul = _pclmulqdq(builder)
        acc0 = cgutils.alloca_once_value(builder, zero)
        acc1 = cgutils.alloca_once_value(builder, zero)
        two = builder.icmp_signed(">", rows, one)
        with cgutils.for_range(builder, m) as loop:
            j = loop.index
            index = builder.sub(last, j)
            b_j = builder.insert_element(zero, builder.load(builder.gep(right.data, [j])), first)
            a_0 = builder.insert_element(zero, builder.load(builder.gep(left.data, [index])), first)
            product = builder.call(pclmul, [a_0, b_j, imm])
            builder.store(builder.xor(builder.load(acc0), product), acc0)
            with builder.if_then(two, likely=True):
                shifted = builder.gep(left.data, [builder.add(index, one)])
                a_1 = builder.insert_element(zero, builder.load(shifted), first)
                product = builder.call(pclmul, [a_1, b_j, imm])
                builder.store(builder.xor(builder.load(acc1), product), acc1)
        row0 = builder.load(acc0)
        row1 = builder.load(acc1)
        values = [
            builder.extract_element(row0, first),
            builder.extract_element(row0, second),
            builder.extract_element(row1, first),
            builder.extract_element(row1, second),
        ]
        return context.make_tuple(builder, sig.return_type, values)

    return signature, codegen


def _has_wide_clmul() -> bool:
    """VPCLMULQDQ on 512-bit registers (four 64 x 64 products per instruction)."""
    features = binding.get_host_cpu_features()
    return bool(features.get("vpclmulqdq", False) and features.get("avx512f", False))


WIDE = _has_wide_clmul()
"""Whether `schoolbook` uses `clmul_rows_wide` (a compile-time constant to numba; the on-disk
cache is per CPU model, so a cached kernel never meets a CPU it was not compiled for)."""


@intrinsic
def clmul_rows_wide(typingctx: Any, a: Any, b: Any, last: Any, m: Any) -> Any:
    """Rows 0 and 1 as `clmul_rows`, for j < m, m a multiple of 8, eight columns per step.

    b[j .. j + 7] fills one 512-bit register; a[last + r - j - 7 .. last + r - j], reversed,
    another, so each 128-bit lane pairs a[last + r - j'] with b[j'] in its low and its high
    half (imm8 0x00 and 0x11). The four lanes' sums are folded at the end.
    """
    signature = types.UniTuple(types.uint64, 4)(a, b, types.intp, types.intp)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        left = context.make_array(sig.args[0])(context, builder, args[0])
        right = context.make_array(sig.args[1])(context, builder, args[1])
        last, m = args[2], args[3]
        wide = ir.VectorType(ir.IntType(64), 8)
        pclmul = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(wide, [wide, wide, ir.IntType(8)]),
            "llvm.x86.pclmulqdq.512",
        )
        zero = ir.Constant(wide, [0] * 8)
        reverse = ir.Constant(ir.VectorType(ir.IntType(32), 8), [7, 6, 5, 4, 3, 2, 1, 0])
        low_halves = ir.Constant(ir.IntType(8), 0x00)
        high_halves = ir.Constant(ir.IntType(8), 0x11)
        eight = ir.Constant(m.type, 8)
        acc0 = cgutils.alloca_once_value(builder, zero)
        acc1 = cgutils.alloca_once_value(builder, zero)

        def load(base: Any, index: Any) -> Any:
            pointer = builder.bitcast(builder.gep(base, [index]), wide.as_pointer())
            return builder.load(pointer, align=8)

        def products(row: Any, column: Any) -> Any:
            return builder.xor(
                builder.call(pclmul, [row, column, low_halves]),
                builder.call(pclmul, [row, column, high_halves]),
            )

        with cgutils.for_range(builder, builder.sdiv(m, eight)) as loop:
            j = builder.mul(loop.index, eight)
            column = load(right.data, j)
            start = builder.sub(builder.sub(last, j), ir.Constant(m.type, 7))
            row0 = builder.shuffle_vector(load(left.data, start), zero, reverse)
            shifted = builder.add(start, ir.Constant(m.type, 1))
            row1 = builder.shuffle_vector(load(left.data, shifted), zero, reverse)
            builder.store(builder.xor(builder.load(acc0), products(row0, column)), acc0)
            builder.store(builder.xor(builder.load(acc1), products(row1, column)), acc1)
        values = []
        for acc in (acc0, acc1):
            total = builder.load(acc)
            halves = [
                builder.extract_element(total, ir.Constant(ir.IntType(32), i)) for i in range(8)
            ]
            values.append(
                builder.xor(builder.xor(halves[0], halves[2]), builder.xor(halves[4], halves[6]))
            )
            values.append(
                builder.xor(builder.xor(halves[1], halves[3]), builder.xor(halves[5], halves[7]))
            )
        return context.make_tuple(builder, sig.return_type, values)

    return signature, codegen


@njit(cache=True, nogil=True)
def schoolbook(a: Any, b: Any, lo: Any, hi: Any) -> None:
    """y += T b, T[k, j] = a[k - j + m - 1] (m = len(b) = len(y)), two rows per pass."""
    m = b.shape[0]
    full = m - m % 8 if WIDE else 0
    for k in range(0, m, 2):
        rows = min(2, m - k)
        if rows == 1 or not full:  # (the wide kernel always reads both rows' operands)
            lo0, hi0, lo1, hi1 = clmul_rows(a, b, k + m - 1, m, rows)
        else:
            lo0, hi0, lo1, hi1 = clmul_rows(a, b[full:], k + m - 1 - full, m - full, 2)
            w_lo0, w_hi0, w_lo1, w_hi1 = clmul_rows_wide(a, b, k + m - 1, full)
            lo0 ^= w_lo0
            hi0 ^= w_hi0
            lo1 ^= w_lo1
            hi1 ^= w_hi1
        lo[k] ^= lo0
        hi[k] ^= hi0
        if rows == 2:
            lo[k + 1] ^= lo1
            hi[k + 1] ^= hi1


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
