"""The inputs of post-processing: what each end recorded about the detected pulses.

Both records are plain numpy arrays, one entry per pulse, aligned by `pulse_index` (the pulse's
number in the block). Validation happens here, once, so the protocol code can rely on shapes,
dtypes and value ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from protocols.errors import LocalProtocolError

__all__ = ["BASIS_X", "BASIS_Z", "AliceRecord", "BobRecord"]

BASIS_Z = 0
"""Rectilinear basis; sifted Z-basis bits form the key (Lim et al. 2014)."""
BASIS_X = 1
"""Diagonal basis; sifted X-basis bits are disclosed to bound the phase error."""


def _as_bits(name: str, value: NDArray[np.generic], size: int, top: int = 1) -> NDArray[np.uint8]:
    array = np.asarray(value)
    if array.ndim != 1 or array.shape[0] != size:
        raise LocalProtocolError(f"{name} must be a 1-D array of length {size}")
    # Unsigned codes cannot be negative: one reduction instead of two.
    if array.size and ((array.dtype.kind != "u" and array.min() < 0) or array.max() > top):
        raise LocalProtocolError(f"{name} values must lie in 0..{top}")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _as_index(value: NDArray[np.generic]) -> NDArray[np.int64]:
    array = np.ascontiguousarray(value, dtype=np.int64)
    if array.ndim != 1:
        raise LocalProtocolError("pulse_index must be a 1-D array")
    # Neighbours compared directly: no int64 array of differences.
    if array.size and (array[0] < 0 or bool(np.any(array[1:] <= array[:-1]))):
        raise LocalProtocolError("pulse_index must be non-negative and strictly increasing")
    return array


@dataclass(frozen=True, slots=True, eq=False)
class AliceRecord:
    """Alice's record of one block: every pulse Bob may report as detected, and the totals sent.

    Arrays may cover more pulses than Bob detected (Alice looks up the ones Bob announces).
    """

    pulse_index: NDArray[np.int64]
    """Pulse numbers, strictly increasing (int64)."""
    bits: NDArray[np.uint8] = field(repr=False)
    """The bit Alice encoded, 0 or 1 (secret)."""
    bases: NDArray[np.uint8] = field(repr=False)
    """The basis Alice prepared: `BASIS_Z` (0) or `BASIS_X` (1)."""
    intensity: NDArray[np.uint8]
    """Intensity class of the pulse: an index into `PostProcessingConfig.intensities`."""
    pulses_sent: tuple[int, ...]
    """How many pulses Alice sent in each intensity class over the whole block."""

    def __post_init__(self) -> None:
        index = _as_index(self.pulse_index)
        size = index.shape[0]
        object.__setattr__(self, "pulse_index", index)
        object.__setattr__(self, "bits", _as_bits("bits", self.bits, size))
        object.__setattr__(self, "bases", _as_bits("bases", self.bases, size))
        classes = len(self.pulses_sent)
        if classes < 1 or any(int(c) < 0 for c in self.pulses_sent):
            raise LocalProtocolError("pulses_sent needs one non-negative count per class")
        object.__setattr__(self, "pulses_sent", tuple(int(c) for c in self.pulses_sent))
        object.__setattr__(
            self, "intensity", _as_bits("intensity", self.intensity, size, top=classes - 1)
        )
        counts = [int(np.count_nonzero(self.intensity == k)) for k in range(classes)]
        if any(c > sent for c, sent in zip(counts, self.pulses_sent, strict=True)):
            raise LocalProtocolError("more records than pulses sent in an intensity class")

    def __len__(self) -> int:
        return int(self.pulse_index.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class BobRecord:
    """Bob's record of one block: only the pulses that clicked (no-click pulses are left out)."""

    pulse_index: NDArray[np.int64]
    """Numbers of the detected pulses, strictly increasing (int64)."""
    bases: NDArray[np.uint8] = field(repr=False)
    """The basis Bob measured in: `BASIS_Z` (0) or `BASIS_X` (1)."""
    bits: NDArray[np.uint8] = field(repr=False)
    """The bit Bob measured, 0 or 1 (double clicks already mapped to a random bit)."""

    def __post_init__(self) -> None:
        index = _as_index(self.pulse_index)
        size = index.shape[0]
        object.__setattr__(self, "pulse_index", index)
        object.__setattr__(self, "bases", _as_bits("bases", self.bases, size))
        object.__setattr__(self, "bits", _as_bits("bits", self.bits, size))

    def __len__(self) -> int:
        return int(self.pulse_index.shape[0])
