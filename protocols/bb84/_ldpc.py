"""LDPC reconciliation: syndrome-based, with the syndrome revealed in increments on failure.

The key is cut into equal frames of at most `frame_bits` bits; every frame uses the same code,
built from the public 16-byte seed Alice sends in `Estimate.cascade_seed`, and frames shorter
than the code are padded with known zeros (shortening: the decoder treats them as certain).
The base syndrome has f(q)·N·h(q) bits per frame of N bits for the design error rate q (the
measured X-basis error rate plus one binomial deviation of the test sample), so the rate is
chosen per block by building the code of that rate from the seed (what puncturing and
shortening a mother code do in rate-adaptive reconciliation: Elkouss, Martinez-Mateo, Lancho
and Martin, "Rate compatible protocol for information reconciliation", ITW 2010).

A frame whose decoding fails gets more syndrome bits: the code is extended by nested rows
(`extend_matrix`), and Bob asks for the next `STEP_FRACTION` of rows of every failing frame in
one `ParityQuery` (pass 0, node = frame × extension rows + row); Alice answers in a
`ParityReply`. This is the interactive, blind idea of Martinez-Mateo, Elkouss and Martin,
"Blind reconciliation", Quantum Inf. Comput. 12 (2012) 791, with additional parity checks
instead of revealed punctured bits: the base rate can sit close to the code's threshold and
the few frames above it cost a round trip, not the block. Every bit revealed is counted in
λ_EC, like Cascade's parities.

The wire reuses the Cascade messages: `Estimate.qber_estimate` is the design q,
`Estimate.top_parities` carries every frame's base syndrome, frame after frame. A frame still
undecoded after `MAX_STEPS` increments is a frame error: Bob aborts the block (authenticated
`Abort`). Only the whole block is discarded, never a subset of frames, because which frames
fail depends on their error counts, and keeping the frames that decoded would select a subset
with fewer errors than the decoy-state bounds were computed for. A frame that decodes to a
wrong word satisfying its syndrome is caught by verification like any other residual error.
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
    extend_matrix,
    first_rows,
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
"""Belief-propagation iterations before a decoding attempt fails."""
STEP_FRACTION = 0.05
"""Each increment reveals this fraction of the base syndrome length in further rows."""
MAX_STEPS = 10
"""Increments before a frame that still does not decode is a frame error."""
MARGIN_SIGMAS = 1.0
"""Binomial deviations of the test sample added to the estimated error rate."""
_MIN_QBER = 1e-3
_MAX_QBER = 0.5 - 1e-9


class LdpcFrameError(Exception):
    """Internal: some frame did not decode; Bob aborts the block with this message."""


def design_qber(qber_x: float, test_bits: int) -> float:
    """The error rate the code is built for: the estimate plus `MARGIN_SIGMAS` binomial
    deviations of the test sample (increments cover the rest of the fluctuation)."""
    q = min(max(qber_x, _MIN_QBER), _MAX_QBER)
    sigma = math.sqrt(q * (1.0 - q) / max(test_bits, 1))
    return min(q + MARGIN_SIGMAS * sigma, _MAX_QBER)


def design_efficiency(qber: float, columns: int) -> float:
    """The efficiency f the base syndrome is sized for, at design error rate `qber` and frame
    length `columns`.

    Found by trial with this module's codes (`python -m benchmarks ldpc` and sweeps at 1-3 %):
    low enough that most frames decode at once, the rest after an increment or two. Shorter
    frames and lower error rates (rates nearer one) need a larger margin.
    """
    if columns < 4096:
        return 1.6 if qber < 0.015 else 1.5 if qber < 0.025 else 1.4
    return 1.25 if qber < 0.015 else 1.15


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
    """What both ends derive from (n, frame_bits, design q, seed): frames, the base code and
    its nested extension rows."""

    __slots__ = ("base_checks", "columns", "frames", "full", "mask", "step_rows")

    def __init__(self, n: int, frame_bits: int, qber: float, seed: bytes) -> None:
        self.frames, self.columns = frame_plan(n, frame_bits)
        self.base_checks = syndrome_bits(self.columns, qber)
        self.step_rows = max(1, math.ceil(STEP_FRACTION * self.base_checks))
        base = build_matrix(self.columns, self.base_checks, seed)
        self.full: ParityCheckMatrix = extend_matrix(base, MAX_STEPS * self.step_rows, seed)
        sizes = np.full(self.frames, n // self.frames, dtype=np.int64)
        sizes[: n % self.frames] += 1
        self.mask = np.arange(self.columns) < sizes[:, None]
        """Which cells of the frames × columns array hold key bits (the rest are shortened)."""

    @property
    def extension_rows(self) -> int:
        return MAX_STEPS * self.step_rows

    @property
    def leaked(self) -> int:
        """Syndrome bits sent up front (all frames' base syndromes)."""
        return self.frames * self.base_checks

    def framed(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        out = np.zeros((self.frames, self.columns), dtype=np.uint8)
        out[self.mask] = bits
        return out


class LdpcAlice:
    """Alice's side: sends every frame's base syndrome, then reveals extension rows' syndrome
    bits on request (Bob's `ParityQuery`: pass 0, node = frame × extension rows + row)."""

    def __init__(self, bits: NDArray[np.uint8], qber: float, seed: bytes, frame_bits: int) -> None:
        setup = _Setup(int(bits.shape[0]), frame_bits, qber, seed)
        syndromes = setup.full.syndromes(setup.framed(bits))
        self._base = np.ascontiguousarray(syndromes[:, : setup.base_checks]).reshape(-1)
        self._extension = np.ascontiguousarray(syndromes[:, setup.base_checks :]).reshape(-1)
        self.disclosed = setup.leaked
        """Syndrome bits disclosed so far (λ_EC)."""

    def top_parities(self) -> NDArray[np.uint8]:
        """Every frame's base syndrome, frame after frame (sent in `Estimate.top_parities`)."""
        return self._base

    def answer(self, passes: NDArray[np.uint8], nodes: NDArray[np.uint32]) -> NDArray[np.uint8]:
        """The requested extension syndrome bits.

        Raises:
            DecodeError: a query is not an extension row of this block.
        """
        if passes.shape[0] and int(passes.max()) != 0:
            raise DecodeError("LDPC queries carry pass 0")
        if nodes.shape[0] and int(nodes.max()) >= self._extension.shape[0]:
            raise DecodeError("LDPC query beyond the extension rows")
        self.disclosed += int(nodes.shape[0])
        return self._extension[nodes.astype(np.int64)]


class LdpcBob:
    """Bob's side: decodes every frame towards its base syndrome, asks for one more increment
    of syndrome rows for the frames that failed, and decodes those again, up to `MAX_STEPS`.

    Offers what Bob's endpoint reads from a Cascade run (`bits`, `errors_corrected`,
    `queries`, `round_trips`, `next_queries()`, `apply_replies()`), so the endpoint drives both
    the same way.

    Raises:
        DecodeError: the syndrome does not have the length the code implies.
    """

    def __init__(
        self,
        bits: NDArray[np.uint8],
        qber: float,
        seed: bytes,
        frame_bits: int,
        syndromes: NDArray[np.uint8],
    ) -> None:
        setup = _Setup(int(bits.shape[0]), frame_bits, qber, seed)
        if syndromes.shape[0] != setup.leaked:
            raise DecodeError("syndrome length does not match the LDPC code")
        self._setup = setup
        self._received = bits
        self._syndromes = np.zeros((setup.frames, setup.full.checks), dtype=np.uint8)
        self._syndromes[:, : setup.base_checks] = syndromes.reshape(setup.frames, -1)
        q = min(max(qber, _MIN_QBER), _MAX_QBER)
        llr = math.log((1.0 - q) / q)
        framed = setup.framed(bits)
        self._priors = np.where(framed == 0, llr, -llr)
        self._priors[~setup.mask] = KNOWN_BIT_LLR  # shortened bits are known zeros
        self._decoded = framed
        self._failed = np.arange(setup.frames)
        self._step = 0
        self._messages: NDArray[np.float64] | None = None
        """Check-to-bit messages of the failing frames: the next attempt resumes from them."""
        self._asked: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.queries = 0
        """Extension syndrome bits asked for (and disclosed by Alice)."""
        self.round_trips = 0
        """Increment requests answered."""
        self._decode()

    def _decode(self) -> None:
        setup, rows = self._setup, self._setup.base_checks + self._step * self._setup.step_rows
        frames = self._failed
        decoded, ok, self._messages = decode_syndromes(
            first_rows(setup.full, rows),
            self._priors[frames],
            self._syndromes[frames, :rows],
            MAX_ITERATIONS,
            self._messages,
        )
        self._decoded[frames] = decoded
        self._failed = frames[~ok]

    def next_queries(self) -> tuple[NDArray[np.uint8], NDArray[np.uint32]] | None:
        """The next increment of rows for every frame still failing, or None when all decoded.

        Raises:
            LdpcFrameError: some frame still fails after `MAX_STEPS` increments.
        """
        if not self._failed.shape[0]:
            return None
        setup = self._setup
        if self._step >= MAX_STEPS:
            raise LdpcFrameError(
                f"LDPC frame error: {self._failed.shape[0]} of {setup.frames} frames did not "
                f"decode after {MAX_STEPS} syndrome increments; block discarded"
            )
        rows = np.arange(self._step * setup.step_rows, (self._step + 1) * setup.step_rows)
        nodes = (self._failed[:, None] * setup.extension_rows + rows[None, :]).reshape(-1)
        self._asked = nodes
        return np.zeros(nodes.shape[0], dtype=np.uint8), nodes.astype(np.uint32)

    def apply_replies(self, parities: NDArray[np.uint8]) -> None:
        """Alice's extension syndrome bits for the last request; decode the failing frames again.

        Raises:
            DecodeError: the reply does not match the request.
        """
        setup = self._setup
        if not self._asked.shape[0] or parities.shape[0] != self._asked.shape[0]:
            raise DecodeError("LDPC reply does not match the request")
        frame = self._asked // setup.extension_rows
        column = setup.base_checks + self._asked % setup.extension_rows
        self._syndromes[frame, column] = parities
        self.queries += int(parities.shape[0])
        self.round_trips += 1
        self._step += 1
        self._asked = np.zeros(0, dtype=np.int64)
        self._decode()

    @property
    def bits(self) -> NDArray[np.uint8]:
        """Bob's corrected key (his best guess where a frame failed)."""
        return self._decoded[self._setup.mask]

    @property
    def errors_corrected(self) -> int:
        """Bits Bob flipped."""
        return int(np.count_nonzero(self.bits != self._received))
