"""Sifting at either end: which detections become key and which test bits, in one pass.

Both ends keep the pulses where their bases agree: Z-basis ones form the key, X-basis ones are
disclosed for estimation (Lim et al., PRA 89, 022307 (2014)). Bases are `BASIS_Z` (0) or
`BASIS_X` (1), as `_records` validates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from protocols.bb84 import _sift_kernels as kernels
from protocols.errors import LocalProtocolError

__all__ = ["Sifted", "same_pulses", "sift"]


@dataclass(frozen=True, slots=True, eq=False)
class Sifted:
    """One end's sifted bits, in pulse order."""

    key: NDArray[np.uint8]
    """Bits of the Z-basis pulses where both bases agree (secret)."""
    test: NDArray[np.uint8]
    """Bits of the X-basis pulses where both bases agree."""
    test_class: NDArray[np.uint8]
    """Intensity class of each test bit (empty unless classes were given)."""
    key_per_class: tuple[int, ...]
    """Key bits per intensity class (empty unless classes were given)."""

    def __repr__(self) -> str:
        return f"Sifted(key={self.key.shape[0]} bits, test={self.test.shape[0]} bits)"


def same_pulses(a: NDArray[np.int64], b: NDArray[np.int64]) -> bool:
    """Whether two pulse-index arrays are identical."""
    return a.shape == b.shape and bool(kernels.equal(a, b))


def sift(
    mine: NDArray[np.uint8],
    theirs: NDArray[np.uint8],
    bits: NDArray[np.uint8],
    classes: NDArray[np.uint8] | None = None,
    class_count: int = 0,
) -> Sifted:
    """Split `bits` by agreeing bases; with `classes` (values < `class_count`) also keep the
    test bits' classes and count the key bits per class."""
    n = mine.shape[0]
    if theirs.shape[0] != n or bits.shape[0] != n:
        raise LocalProtocolError("bases and bits differ in length")
    key = np.empty(n, dtype=np.uint8)
    test = np.empty(n, dtype=np.uint8)
    if classes is None:
        nk, nt = kernels.split(mine, theirs, bits, key, test)
        return Sifted(key[:nk], test[:nt].copy(), np.zeros(0, dtype=np.uint8), ())
    if classes.shape[0] != n or (n and int(classes.max()) >= class_count):
        raise LocalProtocolError("classes out of range or of another length")
    test_class = np.empty(n, dtype=np.uint8)
    counts = np.zeros(class_count, dtype=np.int64)
    nk, nt = kernels.split_classes(mine, theirs, bits, classes, key, test, test_class, counts)
    return Sifted(
        key[:nk],
        test[:nt].copy(),
        test_class[:nt].copy(),
        tuple(int(c) for c in counts),
    )
