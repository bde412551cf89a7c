"""Alice's post-processing endpoint: sifting reply, estimation, Cascade answers, PA."""

from __future__ import annotations

import hmac

import numpy as np
from numpy.typing import NDArray

from protocols.bb84._auth import TAG_BYTES, AuthKeyPool
from protocols.bb84._cascade import CascadeAlice, CascadeQueryError, build_layouts, split_frames
from protocols.bb84._codec import (
    Confirm,
    DecodeError,
    DisclosedBits,
    Estimate,
    Message,
    ParityQuery,
    ParityReply,
    PrivacyAmplification,
    Sift,
    SiftReply,
    Verify,
)
from protocols.bb84._config import PostProcessingConfig
from protocols.bb84._endpoint import Endpoint, RandomSource, random_bits, unpack_exact
from protocols.bb84._estimation import Counts, binary_entropy, estimate, final_key_length
from protocols.bb84._estimation import Estimate as Bounds
from protocols.bb84._ldpc import LdpcAlice, design_qber
from protocols.bb84._records import AliceRecord
from protocols.bb84._sift import Sifted, same_pulses, sift
from protocols.bb84._state import Role
from protocols.bb84._toeplitz import privacy_amplify, toeplitz_multiply
from protocols.bb84.events import BlockStatistics, KeyDistilled
from protocols.errors import LocalProtocolError

__all__ = ["AlicePostProcessing"]


class AlicePostProcessing(Endpoint):
    """Alice's end of one block: waits for Bob's `Sift`, estimates, decides, answers.

    Alice runs parameter estimation and decides whether to continue; an abort raises
    `PostProcessingAbortedError` from `receive_data` after queuing an authenticated `Abort` for
    Bob (flush `data_to_send()` afterwards). `KeyDistilled` comes once Bob confirmed.
    `random_source(n) -> bytes` supplies the public seeds (default `os.urandom`).
    """

    def __init__(
        self,
        record: AliceRecord,
        *,
        config: PostProcessingConfig,
        auth_pool: AuthKeyPool,
        random_source: RandomSource | None = None,
    ) -> None:
        if len(record.pulses_sent) != len(config.intensities):
            raise LocalProtocolError("record has a different number of intensity classes")
        super().__init__(
            Role.ALICE, config=config, auth_pool=auth_pool, random_source=random_source
        )
        self._record = record
        self._sifting: Sifted | None = None
        self._detections = 0
        self._sifted = 0
        self._key: NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._bounds: Bounds | None = None
        self._cascade: CascadeAlice | LdpcAlice | None = None
        self._round_trips = 0
        self._pending: KeyDistilled | None = None

    def _on_message(self, message: Message) -> None:
        if isinstance(message, Sift):
            self._on_sift(message)
        elif isinstance(message, DisclosedBits):
            self._on_test_bits(message)
        elif isinstance(message, ParityQuery):
            self._on_query(message)
        elif isinstance(message, Verify):
            self._on_verify(message)
        elif isinstance(message, Confirm):
            if self._pending is None:
                raise DecodeError("confirmation without a key")
            self._events.append(self._pending)
            self._pending = None

    def _on_sift(self, message: Sift) -> None:
        record = self._record
        if same_pulses(record.pulse_index, message.pulse_index):
            # Records already aligned: no positions or gathers needed.
            bases, bits, classes = record.bases, record.bits, record.intensity
        else:
            index = record.pulse_index
            pos = np.searchsorted(index, message.pulse_index)
            if message.pulse_index.size and (
                pos.max() >= index.shape[0]
                or np.any(index[np.minimum(pos, index.shape[0] - 1)] != message.pulse_index)
            ):
                raise DecodeError("Bob announced a pulse Alice has no record of")
            bases, bits, classes = record.bases[pos], record.bits[pos], record.intensity[pos]
        if message.bases.shape[0] != bases.shape[0]:
            raise DecodeError("one basis per announced detection")
        sifted = sift(bases, message.bases, bits, classes, len(self._config.intensities))
        self._detections = int(message.pulse_index.shape[0])
        self._sifted = int(sifted.key.shape[0] + sifted.test.shape[0])
        self._key = sifted.key
        self._sifting = sifted
        self._send(SiftReply(bases))

    def _on_test_bits(self, message: DisclosedBits) -> None:
        sifted = self._sifting
        if sifted is None or message.bits.shape[0] != sifted.test.shape[0]:
            raise DecodeError("one test bit per sifted X-basis pulse")
        classes = len(self._config.intensities)
        errors = message.bits != sifted.test
        counts = Counts(
            sent=self._record.pulses_sent,
            key=sifted.key_per_class,
            test=_per_class(sifted.test_class, classes),
            test_errors=_per_class(sifted.test_class[errors], classes),
        )
        n = int(self._key.shape[0])
        test_bits = int(sifted.test.shape[0])
        if n < 2 or not test_bits:
            raise self._abort("too few sifted bits for key and estimation")
        bounds = estimate(counts, self._config.intensities, self._config.eps_sec)
        self._bounds = bounds
        if bounds.qber_x > self._config.max_qber:
            raise self._abort(
                f"QBER {bounds.qber_x:.4f} exceeds the limit {self._config.max_qber:.4f}"
            )
        # Even error correction at the Shannon limit would leave no key: stop before Cascade.
        optimistic = final_key_length(
            bounds, n * binary_entropy(bounds.qber_x), self._config.eps_sec, self._config.eps_cor
        )
        if optimistic <= 0:
            raise self._abort(
                f"no key: phase-error bound {bounds.phase_error:.4f} with "
                f"{bounds.single_photon_bits:.0f} single-photon bits of {n} (QBER "
                f"{bounds.qber_x:.4f})"
            )
        seed = self._random(16)
        qber = bounds.qber_x
        if self._config.reconciliation == "ldpc":
            qber = design_qber(qber, test_bits)
            self._cascade = LdpcAlice(self._key, qber, seed, self._config.ldpc_frame_bits)
        else:
            frames = split_frames(n, self._config.frame_bits)
            layouts = build_layouts(frames, qber, self._config.reconciliation, seed)
            self._cascade = CascadeAlice(self._key, layouts)
        self._send(
            Estimate(
                qber_estimate=qber,
                qber_x=bounds.qber_x,
                qber_by_class=bounds.qber_by_class,
                vacuum_bits=bounds.vacuum_bits,
                single_photon_bits=bounds.single_photon_bits,
                phase_error=bounds.phase_error,
                cascade_seed=seed,
                top_parities=self._cascade.top_parities(),
            )
        )

    def _on_query(self, message: ParityQuery) -> None:
        cascade = self._cascade
        if cascade is None:
            raise DecodeError("parity query before estimation")
        # Checked before answering: a hostile or broken Bob cannot make Alice disclose (or
        # compute) more parities than the key has bits.
        if cascade.disclosed + message.passes.shape[0] > self._key.shape[0]:
            raise self._abort("error correction would disclose more parities than the key has bits")
        try:
            parities = cascade.answer(message.passes, message.nodes)
        except CascadeQueryError as exc:
            raise DecodeError(str(exc)) from None
        self._round_trips += 1
        self._send(ParityReply(parities))

    def _on_verify(self, message: Verify) -> None:
        cascade, bounds = self._cascade, self._bounds
        if cascade is None or bounds is None:
            raise DecodeError("verification before estimation")
        n = int(self._key.shape[0])
        tag_bits = self._config.verification_tag_bits
        seed = unpack_exact(message.seed, n + tag_bits - 1)
        if message.errors_corrected > n:
            raise DecodeError("more corrections than key bits")
        expected = np.packbits(toeplitz_multiply(seed, self._key, tag_bits)).tobytes()
        if not hmac.compare_digest(expected, message.tag):
            raise self._abort("verification failed: keys differ after error correction")
        leaked = cascade.disclosed
        length = final_key_length(
            bounds, leaked + tag_bits, self._config.eps_sec, self._config.eps_cor
        )
        # This message and Bob's confirmation still take one pad each.
        auth_bytes = self._auth.consumed_bytes + 2 * TAG_BYTES
        if length // 8 <= auth_bytes:
            raise self._abort(
                f"no key: final length {length} bits does not cover the "
                f"{8 * auth_bytes} authentication bits consumed"
            )
        packed_seed, pa_seed = random_bits(self._random, n - 1)
        final = privacy_amplify(self._key, pa_seed, length)
        self._send(PrivacyAmplification(length, packed_seed))
        stats = block_statistics(
            detections=self._detections,
            sifted=self._sifted,
            key_bits=n,
            test_bits=0 if self._sifting is None else int(self._sifting.test.shape[0]),
            bounds=bounds,
            errors_corrected=message.errors_corrected,
            leaked=leaked,
            round_trips=self._round_trips,
            tag_bits=tag_bits,
            final_bits=length,
            auth_bytes=auth_bytes,
        )
        self._pending = split_key(final, auth_bytes, stats)


def _per_class(classes: NDArray[np.uint8], count: int) -> tuple[int, ...]:
    """How many entries name each class (one comparison per class: bincount would first widen
    the codes to intp)."""
    return tuple(int(np.count_nonzero(classes == k)) for k in range(count))


def block_statistics(
    *,
    detections: int,
    sifted: int,
    key_bits: int,
    test_bits: int,
    bounds: Bounds,
    errors_corrected: int,
    leaked: int,
    round_trips: int,
    tag_bits: int,
    final_bits: int,
    auth_bytes: int,
) -> BlockStatistics:
    """The public figures of a block, computed identically at both ends."""
    qber_ec = errors_corrected / key_bits if key_bits else 0.0
    shannon = key_bits * binary_entropy(qber_ec)
    return BlockStatistics(
        detections=detections,
        sifted_bits=sifted,
        key_bits=key_bits,
        test_bits=test_bits,
        qber_x=bounds.qber_x,
        qber_by_class=bounds.qber_by_class,
        qber_ec=qber_ec,
        single_photon_bits=bounds.single_photon_bits,
        vacuum_bits=bounds.vacuum_bits,
        phase_error=bounds.phase_error,
        ec_leaked_bits=leaked,
        ec_efficiency=leaked / shannon if shannon > 0 else float("nan"),
        ec_round_trips=round_trips,
        verification_tag_bits=tag_bits,
        final_key_bits=final_bits,
        auth_key_bits=8 * auth_bytes,
        net_key_bits=8 * (final_bits // 8 - auth_bytes),
    )


def split_key(final: NDArray[np.uint8], auth_bytes: int, stats: BlockStatistics) -> KeyDistilled:
    """Whole bytes of the final key: the first `auth_bytes` refill the pool, the rest is key."""
    whole = np.packbits(final[: (final.shape[0] // 8) * 8]).tobytes()
    return KeyDistilled(key=whole[auth_bytes:], auth_refill=whole[:auth_bytes], statistics=stats)
