"""LDPC reconciliation: one-way, syndrome-based (Alice sends H·x, Bob decodes towards it).

The key is cut into equal frames of at most `frame_bits` bits; every frame uses the same code,
built from the public 16-byte seed Alice sends in `Estimate.cascade_seed`, and frames shorter
than the code are padded with known zeros (shortening: the decoder treats them as certain).
The syndrome length per frame is f(q)·N·h(q) for the design error rate q, a rate chosen per
block (the "rate-adaptive" idea of Elkouss, Martinez-Mateo, Lancho and Martin, "Rate
compatible protocol for information reconciliation", ITW 2010, here by building the code of
the wanted rate directly from the seed instead of puncturing a mother code). Alice's design q
is the measured X-basis error rate plus two standard deviations, so that the statistical
fluctuation of the estimate rarely pushes the frame above the code's threshold.

The wire reuses the Cascade messages: `Estimate.qber_estimate` is the design q,
`Estimate.cascade_seed` the code seed and `Estimate.top_parities` every frame's syndrome, frame
after frame; there are no parity queries. A frame that does not decode is a frame error: Bob
aborts the block (authenticated `Abort`). Only the whole block is discarded, never a subset of
frames, because which frames fail depends on their error counts, and keeping the frames that
decoded would select a subset with fewer errors than the decoy-state bounds were computed for.
A frame that decodes to a wrong word that happens to satisfy the syndrome is caught by
verification like any other residual error.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from protocols.bb84._codec import DecodeError
from protocols.bb84._ldpc_code import (
    KNOWN_BIT_LLR,
    ParityCheckMatrix,
    build_matrix,
    decode_syndromes,
)

__all__ = [
    "LdpcAlice",
    "LdpcBob",
    "LdpcFrameError",
    "design_efficiency",
    "design_qber",
    "frame_plan",
    "syndrome_bits",
]

MAX_ITERATIONS = 60
"""Belief-propagation iterations before a frame is declared failed."""
_MIN_QBER = 1e-3
_MAX_QBER = 0.5 - 1e-9


class LdpcFrameError(Exception):
    """Internal: some frame did not decode; Bob aborts the block with this message."""


def design_qber(qber_x: float, test_bits: int) -> float:
    """The error rate the code is built for: the estimate plus two binomial deviations."""
    q = min(max(qber_x, _MIN_QBER), _MAX_QBER)
    sigma = math.sqrt(q * (1.0 - q) / max(test_bits, 1))
    return min(q + 2.0 * sigma, _MAX_QBER)


def design_efficiency(qber: float, columns: int) -> float:
    """The efficiency f the syndrome length is sized for, at design error rate `qber` and
    frame length `columns`.

    Found by trial with this module's codes (frame error rate at the design rate about 1 % or
    less, the key's own binomial error count included): shorter frames and lower error rates
    (rates nearer one) need a larger margin over the Shannon limit.
    """
    if columns < 4096:
        return 1.8 if qber < 0.015 else 1.7 if qber < 0.025 else 1.6
    if columns < 24576:
        return 1.45 if qber < 0.015 else 1.35
    return 1.3


def _entropy(q: float) -> float:
    return -q * math.log2(q) - (1.0 - q) * math.log2(1.0 - q)


def syndrome_bits(columns: int, qber: float) -> int:
    """Syndrome bits per frame of `columns` bits at design error rate `qber` (1..columns)."""
    q = min(max(qber, _MIN_QBER), _MAX_QBER)
    wanted = math.ceil(design_efficiency(q, columns) * columns * _entropy(q))
    return min(max(wanted, 1), columns)


def frame_plan(n: int, frame_bits: int) -> tuple[int, int]:
    """(frames, columns): the fewest frames of at most `frame_bits` bits covering `n` bits,
    sizes differing by at most one; `columns` is the largest frame (the code length)."""
    frames = max(1, -(-n // frame_bits))
    return frames, -(-n // frames)


class _Setup:
    """What both ends derive from (n, frame_bits, design q, seed)."""

    __slots__ = ("columns", "frames", "mask", "matrix")

    def __init__(self, n: int, frame_bits: int, qber: float, seed: bytes) -> None:
        self.frames, self.columns = frame_plan(n, frame_bits)
        checks = syndrome_bits(self.columns, qber)
        self.matrix: ParityCheckMatrix = build_matrix(self.columns, checks, seed)
        sizes = np.full(self.frames, n // self.frames, dtype=np.int64)
        sizes[: n % self.frames] += 1
        self.mask = np.arange(self.columns) < sizes[:, None]
        """Which cells of the frames × columns array hold key bits (the rest are shortened)."""

    @property
    def leaked(self) -> int:
        return self.frames * self.matrix.checks


class LdpcAlice:
    """Alice's side: computes the syndromes of her key once; answers no queries."""

    def __init__(self, bits: NDArray[np.uint8], qber: float, seed: bytes, frame_bits: int) -> None:
        setup = _Setup(int(bits.shape[0]), frame_bits, qber, seed)
        framed = np.zeros((setup.frames, setup.columns), dtype=np.uint8)
        framed[setup.mask] = bits
        self._syndromes = setup.matrix.syndromes(framed).reshape(-1)
        self.disclosed = setup.leaked
        """Syndrome bits disclosed (λ_EC)."""

    def top_parities(self) -> NDArray[np.uint8]:
        """Every frame's syndrome, frame after frame (sent in `Estimate.top_parities`)."""
        return self._syndromes

    def answer(self, passes: NDArray[np.uint8], nodes: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """LDPC reconciliation is one-way: a parity query is a protocol violation.

        Raises:
            DecodeError: always.
        """
        raise DecodeError("LDPC reconciliation takes no parity queries")


class LdpcBob:
    """Bob's side: decodes his key towards Alice's syndromes on construction.

    Offers the attributes Bob's endpoint reads from a Cascade run (`bits`, `errors_corrected`,
    `queries`, `round_trips`, `next_queries()`), so the endpoint drives both the same way.

    Raises:
        DecodeError: the syndrome does not have the length the code implies.
        LdpcFrameError: some frame did not decode.
    """

    queries = 0
    """Parity queries asked (none: the syndrome is all Alice discloses)."""
    round_trips = 0
    """Query/reply exchanges (none)."""

    def __init__(
        self,
        bits: NDArray[np.uint8],
        qber: float,
        seed: bytes,
        frame_bits: int,
        syndromes: NDArray[np.uint8],
    ) -> None:
        n = int(bits.shape[0])
        setup = _Setup(n, frame_bits, qber, seed)
        if syndromes.shape[0] != setup.leaked:
            raise DecodeError("syndrome length does not match the LDPC code")
        framed = np.zeros((setup.frames, setup.columns), dtype=np.uint8)
        framed[setup.mask] = bits
        q = min(max(qber, _MIN_QBER), _MAX_QBER)
        llr = math.log((1.0 - q) / q)
        priors = np.where(framed == 0, llr, -llr)
        priors[~setup.mask] = KNOWN_BIT_LLR  # shortened bits are known zeros
        decoded, ok, self.iterations = decode_syndromes(
            setup.matrix,
            priors,
            syndromes.reshape(setup.frames, setup.matrix.checks),
            MAX_ITERATIONS,
        )
        self.frames = setup.frames
        """Frames the key was cut into."""
        failed = int(np.count_nonzero(~ok))
        if failed:
            raise LdpcFrameError(
                f"LDPC frame error: {failed} of {setup.frames} frames did not decode "
                f"(design QBER {q:.4f}); block discarded"
            )
        self.bits: NDArray[np.uint8] = decoded[setup.mask]
        """Bob's corrected key."""
        self.errors_corrected = int(np.count_nonzero(self.bits != bits))
        """Bits Bob flipped."""

    def next_queries(self) -> None:
        """Nothing to ask: decoding is done."""
        return None

    def apply_replies(self, parities: NDArray[np.uint8]) -> None:
        """No query was asked, so any reply is a protocol violation.

        Raises:
            DecodeError: always.
        """
        raise DecodeError("LDPC reconciliation asks no parity queries")
