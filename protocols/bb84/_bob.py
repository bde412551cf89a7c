"""Bob's post-processing endpoint: announces, discloses test bits, drives Cascade, confirms."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from protocols.bb84._alice import block_statistics, split_key
from protocols.bb84._auth import TAG_BYTES, AuthKeyPool
from protocols.bb84._cascade import (
    CascadeBob,
    CascadeQueryError,
    build_layouts,
    disclosed_top_parities,
    split_frames,
)
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
from protocols.bb84._estimation import Estimate as Bounds
from protocols.bb84._ldpc import LdpcBob, LdpcFrameError
from protocols.bb84._records import BobRecord
from protocols.bb84._sift import sift
from protocols.bb84._state import Role
from protocols.bb84._toeplitz import privacy_amplify, toeplitz_multiply
from protocols.errors import PostProcessingAbortedError

__all__ = ["BobPostProcessing"]


class BobPostProcessing(Endpoint):
    """Bob's end of one block: call `start()`, then exchange bytes with Alice.

    Bob corrects his key with Cascade (he asks, Alice answers) and proves the result with a
    universal-hash tag; `KeyDistilled` comes when Alice's privacy-amplification message verifies.
    `random_source(n) -> bytes` supplies the verification seed (default `os.urandom`).
    """

    def __init__(
        self,
        record: BobRecord,
        *,
        config: PostProcessingConfig,
        auth_pool: AuthKeyPool,
        random_source: RandomSource | None = None,
    ) -> None:
        super().__init__(Role.BOB, config=config, auth_pool=auth_pool, random_source=random_source)
        self._record = record
        self._key: NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._test_bits = 0
        self._sifted = 0
        self._estimate: Estimate | None = None
        self._cascade: CascadeBob | LdpcBob | None = None
        self._pending_queries = 0

    def start(self) -> None:
        """Queue the sifting announcement (Bob speaks first).

        Raises:
            PostProcessingAbortedError: the block cannot start (e.g. no authentication key left).
        """
        try:
            self._send(Sift(self._record.pulse_index, self._record.bases))
        except PostProcessingAbortedError as exc:
            self._record_abort(exc)
            raise

    def _on_message(self, message: Message) -> None:
        if isinstance(message, SiftReply):
            self._on_sift_reply(message)
        elif isinstance(message, Estimate):
            self._on_estimate(message)
        elif isinstance(message, ParityReply):
            self._on_reply(message)
        elif isinstance(message, PrivacyAmplification):
            self._on_privacy_amplification(message)

    def _on_sift_reply(self, message: SiftReply) -> None:
        if message.bases.shape[0] != len(self._record):
            raise DecodeError("one basis per announced detection")
        sifted = sift(self._record.bases, message.bases, self._record.bits)
        self._key = sifted.key
        self._test_bits = int(sifted.test.shape[0])
        self._sifted = int(self._key.shape[0]) + self._test_bits
        self._send(DisclosedBits(sifted.test))

    def _on_estimate(self, message: Estimate) -> None:
        n = int(self._key.shape[0])
        if self._config.reconciliation == "ldpc":
            self._estimate = message
            self._cascade = LdpcBob(
                self._key,
                message.qber_estimate,
                message.cascade_seed,
                self._config.ldpc_frame_bits,
                message.top_parities,
            )
            self._drive()
            return
        frames = split_frames(n, self._config.frame_bits)
        layouts = build_layouts(
            frames, message.qber_estimate, self._config.reconciliation, message.cascade_seed
        )
        if message.top_parities.shape[0] != disclosed_top_parities(layouts):
            raise DecodeError("top-level parities do not match the Cascade layout")
        self._estimate = message
        self._cascade = CascadeBob(
            self._key,
            layouts,
            message.top_parities,
            reuse=self._config.reconciliation == "cascade-opt",
        )
        self._drive()

    def _on_reply(self, message: ParityReply) -> None:
        cascade = self._cascade
        if cascade is None or message.parities.shape[0] != self._pending_queries:
            raise DecodeError("parity reply does not match the query")
        try:
            cascade.apply_replies(message.parities)
            self._drive()
        except CascadeQueryError as exc:
            raise DecodeError(str(exc)) from None

    def _drive(self) -> None:
        cascade = self._cascade
        if cascade is None:
            raise DecodeError("no error correction under way")
        try:
            queries = cascade.next_queries()
        except LdpcFrameError as exc:
            raise self._abort(str(exc)) from None
        if queries is not None:
            self._pending_queries = int(queries[0].shape[0])
            self._send(ParityQuery(*queries))
            return
        n = int(cascade.bits.shape[0])
        tag_bits = self._config.verification_tag_bits
        packed, seed = random_bits(self._random, n + tag_bits - 1)
        tag = np.packbits(toeplitz_multiply(seed, cascade.bits, tag_bits)).tobytes()
        self._send(Verify(cascade.errors_corrected, packed, tag))

    def _on_privacy_amplification(self, message: PrivacyAmplification) -> None:
        cascade, est = self._cascade, self._estimate
        if cascade is None or est is None:
            raise DecodeError("privacy amplification before error correction")
        n = int(cascade.bits.shape[0])
        if not 0 < message.final_bits < n:
            raise DecodeError("final key length out of range")
        seed = unpack_exact(message.seed, n - 1)
        auth_bytes = self._auth.consumed_bytes + TAG_BYTES  # plus the pad of `Confirm`
        if message.final_bits // 8 <= auth_bytes:
            raise DecodeError("final key would not cover the authentication key consumed")
        final = privacy_amplify(cascade.bits, seed, message.final_bits)
        self._send(Confirm())
        bounds = Bounds(
            est.qber_x,
            est.qber_by_class,
            est.vacuum_bits,
            est.single_photon_bits,
            est.phase_error,
        )
        stats = block_statistics(
            detections=len(self._record),
            sifted=self._sifted,
            key_bits=n,
            test_bits=self._test_bits,
            bounds=bounds,
            errors_corrected=cascade.errors_corrected,
            leaked=int(est.top_parities.shape[0]) + cascade.queries,
            round_trips=cascade.round_trips,
            tag_bits=self._config.verification_tag_bits,
            final_bits=message.final_bits,
            auth_bytes=auth_bytes,
        )
        self._events.append(split_key(final, auth_bytes, stats))
