# numba types these functions itself (at compile time); `_sift` is the typed boundary.
# mypy: disable-error-code="no-untyped-def,no-any-return,unreachable,assignment"
"""Compiled loops behind `_sift`: one pass over the detections per end.

Selections are written without branches (each value is stored at the output cursor, which
advances only when the value is kept), so random bases cost no mispredicted jumps. Outputs
must hold as many entries as the inputs.

Importing this module imports numba (nothing is compiled until the first call; compiled code is
cached on disk). Without numba the same functions run as plain Python: correct, but slow.
"""

from typing import Any

try:
    import numba
except ImportError:  # pragma: no cover - numba is in the `sim` extra
    numba = None


def _compile(**options: Any) -> Any:
    if numba is None:  # pragma: no cover
        return lambda function: function
    return numba.njit(**options)


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
