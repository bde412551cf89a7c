# numba types these functions itself (at compile time); `_sift` is the typed boundary.
# mypy: disable-error-code="no-untyped-def,no-any-return,unreachable,assignment"
"""Compiled loops behind `_sift`: one pass over the detections per end.

Selections are written without branches (each value is stored at the output cursor, which
advances only when the value is kept), so random bases cost no mispredicted jumps. Outputs
must hold as many entries as the inputs.

Importing this module imports numba (nothing is compiled until the first call; compiled code is
cached on disk). Without numba the same functions run as plain Python: correct, but slow.
"""

import numpy as np

from protocols.bb84._jit import kernel as _compile

numba_int = np.int64
"""Widens a byte before shifting (compiled or not)."""


@_compile(cache=True, nogil=True)
def equal(a, b):
    """Whether two int64 arrays of the same length are equal (stops at the first difference)."""
    for i in range(a.shape[0]):  # noqa: SIM110 - numba compiles loops, not all(generator)
        if a[i] != b[i]:
            return False
    return True


@_compile(cache=True, nogil=True)
def split(mine, theirs, bits, key_out, test_out):
    """Bits where both bases are Z (0) into key_out, both X (1) into test_out, in order.

    Returns (key bits, test bits).
    """
    nk = 0
    nt = 0
    for i in range(mine.shape[0]):
        basis = mine[i]
        same = basis == theirs[i]
        bit = bits[i]
        key_out[nk] = bit
        test_out[nt] = bit
        nk += same & (basis == 0)
        nt += same & (basis != 0)
    return nk, nt


@_compile(cache=True, nogil=True)
def split_classes(mine, theirs, bits, classes, key_out, test_out, test_class_out, key_counts):
    """`split`, also keeping the class of each test bit and counting key bits per class."""
    nk = 0
    nt = 0
    for i in range(mine.shape[0]):
        basis = mine[i]
        same = basis == theirs[i]
        key = same & (basis == 0)
        bit = bits[i]
        cls = classes[i]
        key_out[nk] = bit
        test_out[nt] = bit
        test_class_out[nt] = cls
        key_counts[cls] += key
        nk += key
        nt += same & (basis != 0)
    return nk, nt


@_compile(cache=True, nogil=True)
def gaps_be32(index, out):
    """Gaps between consecutive indices as big-endian 32-bit words, byte by byte into `out`
    (4 bytes per gap; negative gaps wrap as a cast would). Returns False, leaving `out`
    incomplete, as soon as a gap needs more than 32 bits."""
    for i in range(index.shape[0] - 1):
        gap = index[i + 1] - index[i]
        if gap >= 4294967296:
            return False
        j = 4 * i
        out[j] = (gap >> 24) & 0xFF
        out[j + 1] = (gap >> 16) & 0xFF
        out[j + 2] = (gap >> 8) & 0xFF
        out[j + 3] = gap & 0xFF
    return True


@_compile(cache=True, nogil=True)
def prefix_be32(raw, first, index):
    """index = first, then running sums of the big-endian 32-bit gaps in the bytes `raw`.
    Returns False (and stops) at the first zero gap."""
    total = first
    index[0] = total
    for i in range(index.shape[0] - 1):
        j = 4 * i
        gap = (
            (numba_int(raw[j]) << 24)
            | (numba_int(raw[j + 1]) << 16)
            | (numba_int(raw[j + 2]) << 8)
            | numba_int(raw[j + 3])
        )
        if gap == 0:
            return False
        total += gap
        index[i + 1] = total
    return True
