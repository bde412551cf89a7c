"""The sans-IO record layer: AEAD records, fragmentation, arrays, anti-replay, QKD rekey, OTP.

`RecordLayer` takes bytes and `now` in, gives bytes and events out; it never reads a clock or
touches a socket (the aioquic/h11 shape). One instance is one direction pair of an established
channel, keyed from the handshake (`initial_epoch_keys`). See docs/channel.md for the format and
the security argument; the wire format is in `_frames.py`, the key schedule in `_rekey.py`.

Sending is lazy: `send_message`/`send_array` only queue a reference to the caller's buffer, and
`data_to_send(limit)` encrypts at most about `limit` bytes of records straight from memoryview
slices into one output buffer, so a 1 GiB array is never copied as a whole and output memory is
bounded by the caller. Receiving decrypts fragments in place into the preallocated message or
array buffer.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from protocols.channel._frames import (
    AAD,
    HEADER,
    HEADER_SIZE,
    TAG_SIZE,
    ArrayHeader,
    FrameError,
    OtpPayload,
    RecordType,
    decode_array_header,
    decode_key_id,
    decode_message_start,
    decode_otp_payload,
    encode_array_header,
    encode_key_id,
    encode_message_start,
    encode_otp_payload,
)
from protocols.channel._otp import otp_open, otp_pad_size, otp_seal
from protocols.channel._record_config import Cipher, RecordConfig, RecordStats, otp_record_size
from protocols.channel._record_state import RecordState, Transition, next_state
from protocols.channel._rekey import (
    MAX_EPOCH,
    EpochExhaustedError,
    EpochKeys,
    KeyLifetimeError,
    next_epoch_keys,
)
from protocols.channel._replay import ReplayFilter, ReplayWindow, StrictOrder
from protocols.channel.events import (
    ArrayReceived,
    CloseReceived,
    Event,
    MessageReceived,
    OtpKeysRequested,
    RekeyCompleted,
    RekeyKeyRequested,
    RekeyNeeded,
)
from protocols.errors import (
    AuthenticationError,
    LocalProtocolError,
    QkdlinkError,
    RemoteProtocolError,
)

__all__ = ["RecordLayer"]

# Nonce = 32 zero bits || 64-bit big-endian record counter, for both AEADs: unique per key, since
# counters never repeat. This is the AESGCM nonce of Noise rev. 34 section 12.4; Noise's
# ChaChaPoly (section 12.3) encodes the counter little-endian instead. Records are our own format,
# not Noise transport messages, so one encoding serves both: RFC 8439 (section 2.8) only needs
# the 96-bit nonce to be unique per key, which any fixed injective encoding of the counter gives.
_NONCE_PREFIX = bytes(4)


def _aead(cipher: Cipher, key: bytes | bytearray) -> AESGCM | ChaCha20Poly1305:
    return AESGCM(bytes(key)) if cipher == "AESGCM" else ChaCha20Poly1305(bytes(key))


class _SendState:
    __slots__ = ("aead", "bytes", "counter", "epoch", "started_at")

    def __init__(self, epoch: int, aead: AESGCM | ChaCha20Poly1305, now: float) -> None:
        self.epoch = epoch
        self.aead = aead
        self.counter = 0
        self.bytes = 0
        self.started_at = now


class _RecvState:
    __slots__ = ("aead", "bytes", "epoch", "expires_at", "records", "replay", "started_at")

    def __init__(
        self, epoch: int, aead: AESGCM | ChaCha20Poly1305, replay: ReplayFilter, now: float
    ) -> None:
        self.epoch = epoch
        self.aead = aead
        self.replay = replay
        self.records = 0
        self.bytes = 0
        self.started_at = now
        self.expires_at: float | None = None


class _AssemblyKind(enum.Enum):
    MESSAGE = "message"
    ARRAY = "array"


class _Assembly:
    """A fragmented message or array being reassembled in its final buffer."""

    __slots__ = ("array", "buffer", "kind", "offset", "total", "view")

    def __init__(
        self, kind: _AssemblyKind, buffer: bytearray | None, array: npt.NDArray[Any] | None
    ) -> None:
        self.kind = kind
        self.buffer = buffer
        self.array = array
        target: Any = buffer if buffer is not None else array
        self.view = memoryview(target).cast("B")
        self.total = len(self.view)
        self.offset = 0


_OVERHEAD = HEADER_SIZE + TAG_SIZE
_TYPES = {t.value: t for t in RecordType}
_RECEIVE_CLOSED = frozenset({RecordState.REMOTE_CLOSED, RecordState.CLOSED})

_MESSAGE_STARTS = frozenset(
    {RecordType.MESSAGE, RecordType.MESSAGE_START, RecordType.ARRAY_START, RecordType.OTP_MESSAGE}
)

_Plan = tuple[RecordType, "bytes | memoryview", int]
"""One record to encrypt: type, plaintext, offset bound into the associated data."""


class RecordLayer:
    """One end of an established qkdlink channel's record layer (sans-IO).

    Args:
        config: limits and policies.
        initiator: True at the handshake initiator (the master SAE), which drives rekeys.
        keys: epoch-0 keys from the handshake (see `initial_epoch_keys`).
        now: the current time in seconds (any monotonic origin, the same for all calls).

    With `key_confirmation`, the initiator's first record is CONFIRM (empty) and the responder
    requires it before anything else: in IKpsk2 only the initiator authenticates the responder
    during the handshake, so the responder learns from it that the peer derived the same keys
    (`peer_confirmed`), as WireGuard's responder waits for the first data packet.

    Every method that consumes peer data raises RemoteProtocolError (malformed, out of order,
    truncated, oversize) or AuthenticationError (a tag failed); `KeyLifetimeError` when a key
    reached its hard limit. After any of these the layer is in `RecordState.ERROR` for good and
    every later call raises LocalProtocolError.
    """

    def __init__(
        self,
        config: RecordConfig,
        *,
        initiator: bool,
        keys: EpochKeys,
        now: float,
        key_confirmation: bool = False,
    ) -> None:
        self._config = config
        self._initiator = initiator
        self._keys = keys
        self._next_keys: EpochKeys | None = None
        self._now = now
        self._state = RecordState.OPEN
        self.stats = RecordStats()
        send_key, recv_key = (
            (keys.initiator_to_responder, keys.responder_to_initiator)
            if initiator
            else (keys.responder_to_initiator, keys.initiator_to_responder)
        )
        self._send = _SendState(keys.epoch, _aead(config.cipher, send_key), now)
        self._recv: dict[int, _RecvState] = {
            keys.epoch: self._new_recv_state(keys.epoch, recv_key, now)
        }
        self._max_ciphertext = config.max_record_payload + TAG_SIZE
        self._queued_bytes = 0
        self._strict = config.replay_window is None
        self._reject_records = config.reject_after_records
        self._reject_bytes = config.reject_after_bytes
        # The peer's epoch may have started up to a rekey timeout after ours.
        self._reject_age = config.reject_after_time + config.rekey_timeout
        self._pause_records = (config.rekey_after_records + config.reject_after_records) // 2
        self._pause_bytes = (config.rekey_after_bytes + config.reject_after_bytes) // 2
        self._inbuf = bytearray()
        # While an OTP message waits for its keys, later calls may add at most one record more.
        self._hold_limit = HEADER_SIZE + self._max_ciphertext
        self._held_late = 0
        self._events: deque[Event] = deque()
        self._priority: deque[_Plan] = deque()
        self._queue: deque[_Plan | Iterator[_Plan]] = deque()
        self._assembly: _Assembly | None = None
        self._otp_pending: OtpPayload | None = None
        self._rekey_requested = False
        self._rekey_deadline: float | None = None
        self._rekey_key_id: bytes | None = None
        self._key_confirmation = key_confirmation
        self._peer_confirmed = not key_confirmation or initiator
        if key_confirmation and initiator:
            self._priority.append((RecordType.CONFIRM, b"", 0))

    # ------------------------------------------------------------------ public state

    @property
    def state(self) -> RecordState:
        return self._state

    @property
    def epoch(self) -> int:
        """The epoch this side currently sends with."""
        return self._send.epoch

    @property
    def rekey_in_progress(self) -> bool:
        return self._rekey_key_id is not None

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._priority or (self._queue and not self.send_paused))

    @property
    def queued_bytes(self) -> int:
        """Plaintext bytes queued by `send_*` and not yet returned by `data_to_send` (about)."""
        return self._queued_bytes

    @property
    def send_paused(self) -> bool:
        """True when the sending key is halfway from its rekey limit to its hard limit.

        `data_to_send` then emits only control records until the rekey completes
        (`RekeyCompleted`), so a fast sender waits for the QKD rekey instead of exhausting
        the key (which would end the channel with `KeyLifetimeError`).
        """
        return self._send.counter >= self._pause_records or self._send.bytes >= self._pause_bytes

    @property
    def awaiting_keys(self) -> bool:
        """True while an OTP message waits for `provide_otp_keys`: stop feeding input until then.

        This is back-pressure: input is held back, unparsed, to keep message order, and
        `receive_data` accepts at most one more maximal record meanwhile (see there).
        """
        return self._otp_pending is not None

    @property
    def peer_confirmed(self) -> bool:
        """Responder with key confirmation: the initiator's CONFIRM record authenticated."""
        return self._peer_confirmed

    @property
    def has_events(self) -> bool:
        """True if `next_event` would return an event (sending can emit `RekeyNeeded`)."""
        return bool(self._events)

    def next_event(self) -> Event | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    # ------------------------------------------------------------------ sending

    def send_message(self, data: bytes | bytearray | memoryview) -> None:
        """Queue one message; it is fragmented if larger than a record.

        The caller must not modify `data` until `data_to_send` has returned all of it.

        Raises:
            LocalProtocolError: the message exceeds `max_message_size`, or sending is closed.
        """
        if (
            type(data) is bytes
            and self._state is RecordState.OPEN
            and len(data) <= self._config.max_record_payload
        ):
            # The common case, without a memoryview: one small immutable message.
            stats = self.stats
            stats.messages_sent += 1
            stats.bytes_sent += len(data)
            self._queued_bytes += len(data)
            self._queue.append((RecordType.MESSAGE, data, 0))
            return
        self._check_can_send()
        view = memoryview(data).cast("B")
        if len(view) > self._config.max_message_size:
            raise LocalProtocolError("message larger than max_message_size")
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(view)
        self._queued_bytes += len(view)
        if len(view) <= self._config.max_record_payload:
            self._queue.append((RecordType.MESSAGE, view, 0))
        else:
            start = encode_message_start(len(view))
            self._queue.append(self._stream(RecordType.MESSAGE_START, start, view))

    def send_array(self, array: npt.NDArray[Any]) -> None:
        """Queue a numeric numpy array: a dtype/shape header, then its raw buffer in fragments.

        A C-contiguous array is encrypted straight from its memory (no copy); any other layout
        is copied once into C order first. The array must not change until it is sent.

        Raises:
            LocalProtocolError: unsupported dtype (only b, i, u, f, c kinds), too large, or closed.
        """
        self._check_can_send()
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        try:
            start = encode_array_header(ArrayHeader(array.dtype.str, tuple(array.shape)))
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None
        if array.nbytes > self._config.max_array_size:
            raise LocalProtocolError("array larger than max_array_size")
        self.stats.messages_sent += 1
        self.stats.bytes_sent += array.nbytes
        self._queued_bytes += array.nbytes
        view = memoryview(array.data).cast("B") if array.nbytes else memoryview(b"")
        self._queue.append(self._stream(RecordType.ARRAY_START, start, view))

    def send_otp(self, message: bytes, pads: Sequence[tuple[bytes, bytes]]) -> None:
        """Queue `message` under the one-time pad formed by the QKD keys `pads` (id, material).

        The keys' material must total at least ``len(message) + 32`` bytes; all of it is
        consumed (the unused tail is discarded with the rest, never reused).

        Raises:
            LocalProtocolError: too little key, too many keys, message too large, or closed.
        """
        self._check_can_send()
        if not 0 < len(pads) <= 255:
            raise LocalProtocolError("an OTP message uses 1..255 QKD keys")
        key_ids = [key_id for key_id, _ in pads]
        if otp_record_size(len(message), key_ids) > self._config.max_record_payload:
            raise LocalProtocolError("OTP message and its key IDs do not fit one record")
        pad = bytearray(b"".join(material for _, material in pads))
        try:
            if len(pad) < otp_pad_size(len(message)):
                raise LocalProtocolError("not enough QKD key for this OTP message")
            sealed = otp_seal(bytes(pad), message)
        finally:
            pad[:] = bytes(len(pad))
        payload = encode_otp_payload(OtpPayload(tuple(key_id for key_id, _ in pads), sealed))
        self.stats.otp_key_bytes += len(pad)
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(message)
        self._queue.append((RecordType.OTP_MESSAGE, payload, 0))

    def close(self) -> None:
        """Queue a CLOSE record after everything already queued; nothing may be sent after it."""
        self._check_can_send()
        self._queue.append((RecordType.CLOSE, b"", 0))
        self._state = next_state(self._state, Transition.SEND_CLOSE)

    def data_to_send(self, limit: int = 1 << 20) -> bytearray:
        """Encrypt queued records, about `limit` bytes (at least one record), and return them.

        Raises:
            KeyLifetimeError: the sending key reached its hard limit without a rekey, or
                (`EpochExhaustedError`) a rekey is due after the last epoch.
        """
        self._check_alive()
        plan: list[_Plan] = []
        size = 0
        # Past the pause point only control records go out, so a rekey can complete before
        # the key reaches its hard limit (see `send_paused`).
        records_left = self._pause_records - self._send.counter
        bytes_left = self._pause_bytes - self._send.bytes
        while size < limit:
            if self._priority:
                item = self._priority.popleft()
            elif records_left <= 0 or bytes_left <= 0:
                break
            elif self._queue:
                head = self._queue[0]
                if isinstance(head, tuple):
                    item = head
                    self._queue.popleft()
                else:
                    nxt = next(head, None)
                    if nxt is None:
                        self._queue.popleft()
                        continue
                    item = nxt
            else:
                break
            plan.append(item)
            payload_size = len(item[1])
            size += HEADER_SIZE + payload_size + TAG_SIZE
            records_left -= 1
            bytes_left -= payload_size
        self._queued_bytes = max(0, self._queued_bytes - (size - len(plan) * _OVERHEAD))
        out = bytearray(size)
        if plan:
            self._encrypt_into(plan, out)
            self._maybe_request_rekey()
        return out

    def _encrypt_into(self, plan: list[_Plan], out: bytearray) -> None:
        config = self._config
        stats = self.stats
        send = self._send
        reject_records, reject_bytes = config.reject_after_records, config.reject_after_bytes
        pack = AAD.pack
        view = memoryview(out)
        pos = 0
        try:
            for rtype, payload, offset in plan:
                if rtype is RecordType.REKEY_ACK:
                    send = self._switch_send_epoch()
                counter = send.counter
                if counter >= reject_records or send.bytes >= reject_bytes:
                    raise KeyLifetimeError("sending key exhausted without a rekey")
                size = len(payload)
                body = pos + HEADER_SIZE
                end = body + size + TAG_SIZE
                aad = pack(rtype, send.epoch, counter, size + TAG_SIZE, offset)
                view[pos:body] = aad[:HEADER_SIZE]
                send.aead.encrypt_into(
                    _NONCE_PREFIX + counter.to_bytes(8, "big"), payload, aad, view[body:end]
                )
                send.counter = counter + 1
                send.bytes += size
                pos = end
            stats.records_sent += len(plan)
        except KeyLifetimeError as exc:
            self._fail(exc)
        finally:
            view.release()

    def _stream(
        self, start_type: RecordType, start_payload: bytes, body: memoryview
    ) -> Iterator[_Plan]:
        yield (start_type, start_payload, 0)
        step = self._config.max_record_payload
        for offset in range(0, len(body), step):
            yield (RecordType.FRAGMENT, body[offset : offset + step], offset)

    # ------------------------------------------------------------------ rekey

    def start_rekey(self, key_id: bytes, qkd_key: bytes, now: float) -> None:
        """(Initiator) announce `key_id` and prepare the next epoch from this fresh QKD key.

        This side keeps sending on the current epoch until the peer's REKEY_ACK arrives (the
        first record of the new epoch), so traffic never pauses.

        Raises:
            LocalProtocolError: not the initiator, a rekey already in flight, or closed.
            EpochExhaustedError: the current epoch is the last (`MAX_EPOCH`); the layer fails.
        """
        self._check_can_send()
        if not self._initiator:
            raise LocalProtocolError("only the initiator starts a rekey")
        if self._rekey_key_id is not None:
            raise LocalProtocolError("a rekey is already in progress")
        try:
            announce = encode_key_id(key_id)
            nxt = next_epoch_keys(self._keys, key_id, qkd_key)
        except EpochExhaustedError as exc:
            self._fail(exc)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None
        self._now = now
        self._next_keys = nxt
        self._recv[nxt.epoch] = self._new_recv_state(nxt.epoch, nxt.responder_to_initiator, now)
        self._rekey_key_id = key_id
        self._rekey_deadline = now + self._config.rekey_timeout
        self._priority.append((RecordType.REKEY, announce, 0))

    def accept_rekey(self, key_id: bytes, qkd_key: bytes, now: float) -> None:
        """(Responder) the QKD key announced in `RekeyKeyRequested`, fetched by its ID.

        Queues REKEY_ACK; when it is encrypted this side switches to the new epoch.

        Raises:
            LocalProtocolError: no rekey was requested, or `key_id` is not the one requested.
            EpochExhaustedError: the current epoch is the last (`MAX_EPOCH`); the layer fails.
        """
        self._check_alive()
        if self._initiator or self._rekey_key_id is None or self._next_keys is not None:
            raise LocalProtocolError("no rekey is waiting for a key")
        if key_id != self._rekey_key_id:
            raise LocalProtocolError("accept_rekey with a key ID other than the one announced")
        try:
            nxt = next_epoch_keys(self._keys, key_id, qkd_key)
        except EpochExhaustedError as exc:
            self._fail(exc)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None
        self._now = now
        self._next_keys = nxt
        self._recv[nxt.epoch] = self._new_recv_state(nxt.epoch, nxt.initiator_to_responder, now)
        self._priority.append((RecordType.REKEY_ACK, encode_key_id(key_id), 0))

    def _switch_send_epoch(self) -> _SendState:
        """Responder: move sending to the prepared epoch as REKEY_ACK is encrypted."""
        nxt = self._next_keys
        if nxt is None:
            raise LocalProtocolError("no next epoch prepared")
        self._send = _SendState(
            nxt.epoch, _aead(self._config.cipher, nxt.responder_to_initiator), self._now
        )
        self._install_epoch(nxt)
        return self._send

    def _install_epoch(self, nxt: EpochKeys) -> None:
        self._keys.wipe()
        self._keys = nxt
        self._next_keys = None
        self._rekey_key_id = None
        self._rekey_deadline = None
        self._rekey_requested = False
        self.stats.rekeys += 1
        self._events.append(RekeyCompleted(nxt.epoch))

    def _complete_rekey_initiator(self) -> None:
        nxt = self._next_keys
        if nxt is None:
            raise LocalProtocolError("no next epoch prepared")
        self._send = _SendState(
            nxt.epoch, _aead(self._config.cipher, nxt.initiator_to_responder), self._now
        )
        self._install_epoch(nxt)

    def _maybe_request_rekey(self) -> None:
        if not self._initiator or self._rekey_requested or self._rekey_key_id is not None:
            return
        if self._state not in (RecordState.OPEN, RecordState.REMOTE_CLOSED):
            return
        config = self._config
        recv = self._recv.get(self._send.epoch)
        recv_records = recv.records if recv is not None else 0
        recv_bytes = recv.bytes if recv is not None else 0
        if (
            self._now - self._send.started_at >= config.rekey_after_time
            or self._send.counter >= config.rekey_after_records
            or self._send.bytes >= config.rekey_after_bytes
            or recv_records >= config.rekey_after_records
            or recv_bytes >= config.rekey_after_bytes
        ):
            if self._keys.epoch >= MAX_EPOCH:
                # No epoch number is left for a rekey: end here, before a QKD key is fetched
                # in vain, rather than let the u32 epoch overflow (or wrap and repeat nonces).
                self._fail(EpochExhaustedError("rekey due after the last epoch of the session"))
            self._rekey_requested = True
            self._events.append(RekeyNeeded())

    # ------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        """When `handle_timer` must next be called, or None."""
        if self._state in (RecordState.ERROR, RecordState.CLOSED):
            return None
        config = self._config
        deadlines = [self._send.started_at + config.reject_after_time]
        if self._initiator and not self._rekey_requested and self._rekey_key_id is None:
            deadlines.append(self._send.started_at + config.rekey_after_time)
        if self._rekey_deadline is not None:
            deadlines.append(self._rekey_deadline)
        deadlines.extend(s.expires_at for s in self._recv.values() if s.expires_at is not None)
        return min(deadlines)

    def handle_timer(self, now: float) -> None:
        """Run what is due at `now`: rekey requests, expiry of old keys, missed-rekey failure.

        Raises:
            KeyLifetimeError: the rekey was not acknowledged in time, the key is too old, or
                (`EpochExhaustedError`) a rekey is due after the last epoch.
        """
        if self._state in (RecordState.ERROR, RecordState.CLOSED):
            return
        self._now = now
        if self._rekey_deadline is not None and now >= self._rekey_deadline:
            self._fail(KeyLifetimeError("rekey not acknowledged before the deadline"))
        if now >= self._send.started_at + self._config.reject_after_time:
            self._fail(KeyLifetimeError("sending key too old and no rekey completed"))
        for epoch, state in list(self._recv.items()):
            if state.expires_at is not None and now >= state.expires_at:
                del self._recv[epoch]
        self._maybe_request_rekey()

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Feed bytes from the transport (any split). Events become available from `next_event`.

        While `awaiting_keys`, input is held back unparsed: the rest of the call that delivered
        the OTP message (the caller already held it), plus at most one maximal record
        (``HEADER_SIZE + max_record_payload + TAG_SIZE`` bytes) from later calls, slack for a
        read already in flight. More is refused rather than buffered without bound, as h11
        refuses a receive buffer beyond `max_incomplete_event_size`.

        Raises:
            RemoteProtocolError: malformed, oversize, out-of-order or duplicated (strict mode)
                records, data after CLOSE, or more than one record fed while `awaiting_keys`.
            AuthenticationError: a record failed authentication.
            KeyLifetimeError: the peer kept using an exhausted key, or (`EpochExhaustedError`)
                a rekey is due after the last epoch.
        """
        self._check_alive()
        self._now = now
        data = memoryview(data).cast("B")
        if self._otp_pending is not None:
            self._hold_back(data)
            return
        if self._inbuf:
            # Complete the one partial record held back from the last call, copying only it.
            data = self._complete_pending(data)
            if self._inbuf:
                return
        consumed = self._process(data)
        # Keep only the unfinished tail (at most one record, or input held back while an OTP
        # message waits for its keys).
        self._inbuf = bytearray(data[consumed:])

    def _hold_back(self, data: memoryview) -> None:
        """Keep input fed while an OTP message waits for its keys, up to one record (see above)."""
        self._held_late += len(data)
        if self._held_late > self._hold_limit:
            self._fail(
                RemoteProtocolError("more than one record of input while OTP keys are awaited")
            )
        self._inbuf += data

    def _complete_pending(self, data: memoryview) -> memoryview:
        """Move bytes from `data` into the held-back record; process it once whole."""
        inbuf = self._inbuf
        if len(inbuf) < HEADER_SIZE:
            take = HEADER_SIZE - len(inbuf)
            inbuf += data[:take]
            data = data[take:]
            if len(inbuf) < HEADER_SIZE:
                return data
        length = HEADER.unpack_from(inbuf)[3]
        if not TAG_SIZE <= length <= self._max_ciphertext:
            # The header arrived split across calls: the same check as in `_process`, before
            # any byte of the body is buffered.
            self._fail(RemoteProtocolError("record length out of bounds"))
        take = max(0, HEADER_SIZE + length - len(inbuf))
        inbuf += data[:take]
        data = data[take:]
        if len(inbuf) < HEADER_SIZE + length:
            return data
        self._inbuf = bytearray()
        consumed = self._process(inbuf)
        # Only possible while an OTP message waits: keep what is left, in order.
        self._inbuf = bytearray(inbuf[consumed:]) + data if consumed < len(inbuf) else bytearray()
        return data[len(data) :] if self._inbuf else data

    def receive_eof(self) -> None:
        """The transport ended. Fine after the peer's CLOSE; anything else is a truncation.

        Raises:
            RemoteProtocolError: the stream ended without CLOSE or inside a record.
        """
        self._check_alive()
        if self._state in (RecordState.REMOTE_CLOSED, RecordState.CLOSED) and not self._inbuf:
            return
        self._fail(RemoteProtocolError("stream truncated: ended without a CLOSE record"))

    def provide_otp_keys(self, materials: Sequence[bytes], now: float) -> None:
        """The QKD keys named by `OtpKeysRequested`, in that order; then input processing resumes.

        Raises:
            AuthenticationError: the OTP tag failed (or the keys do not match).
            LocalProtocolError: no OTP message is waiting.
        """
        self._check_alive()
        pending = self._otp_pending
        if pending is None:
            raise LocalProtocolError("no OTP message is waiting for keys")
        if len(materials) != len(pending.key_ids):
            raise LocalProtocolError("provide exactly the keys requested")
        self._now = now
        pad = bytearray(b"".join(materials))
        try:
            message = otp_open(bytes(pad), pending.sealed)
        except AuthenticationError as exc:
            self._fail(exc)
        finally:
            pad[:] = bytes(len(pad))
        self._otp_pending = None
        self._held_late = 0
        self.stats.otp_key_bytes += len(pad)
        self.stats.messages_received += 1
        self.stats.bytes_received += len(message)
        self._events.append(MessageReceived(message, otp=True))
        held, self._inbuf = self._inbuf, bytearray()
        self.receive_data(held, now)

    def _process(self, buf: bytes | bytearray | memoryview) -> int:
        """Handle every whole record in `buf`; returns how many bytes were consumed."""
        pos = 0
        view = memoryview(buf)
        try:
            while self._otp_pending is None and len(view) - pos >= HEADER_SIZE:
                rtype, epoch, counter, length = HEADER.unpack_from(view, pos)
                # Refuse an oversize or impossible length from the header alone, before any
                # byte of the body is buffered (h11's max_incomplete_event_size idea).
                if not TAG_SIZE <= length <= self._max_ciphertext:
                    raise RemoteProtocolError("record length out of bounds")
                end = pos + HEADER_SIZE + length
                if end > len(view):
                    break
                self._handle_record(rtype, epoch, counter, length, view[pos + HEADER_SIZE : end])
                pos = end
        except (RemoteProtocolError, AuthenticationError, KeyLifetimeError) as exc:
            self._fail(exc)
        except FrameError as exc:
            self._fail(RemoteProtocolError(str(exc)))
        return pos

    def _handle_record(
        self, rtype_code: int, epoch: int, counter: int, length: int, ciphertext: memoryview
    ) -> None:
        # The hot path of the receiver: written for few attribute lookups per record.
        rtype = _TYPES.get(rtype_code)
        if rtype is None:
            raise RemoteProtocolError("unknown record type")
        if self._state in _RECEIVE_CLOSED:
            raise RemoteProtocolError("record after CLOSE")
        recv = self._recv.get(epoch)
        if recv is None:
            raise RemoteProtocolError("record of an unknown or retired epoch")
        replay = recv.replay
        if not replay.check(counter):
            if self._strict:
                raise RemoteProtocolError("record out of order, replayed or duplicated")
            self.stats.records_dropped += 1
            return
        size = length - TAG_SIZE
        plaintext: bytes = b""
        nonce = _NONCE_PREFIX + counter.to_bytes(8, "big")
        try:
            if rtype is RecordType.FRAGMENT:
                assembly = self._assembly
                if assembly is None or size == 0 or assembly.offset + size > assembly.total:
                    raise RemoteProtocolError("fragment outside a message")
                offset = assembly.offset
                aad = AAD.pack(rtype, epoch, counter, length, offset)
                recv.aead.decrypt_into(
                    nonce, ciphertext, aad, assembly.view[offset : offset + size]
                )
            else:
                plaintext = recv.aead.decrypt(
                    nonce, ciphertext, AAD.pack(rtype, epoch, counter, length, 0)
                )
        except InvalidTag:
            # One opaque error for every tag failure (STYLE.md 9); the assembly is discarded.
            self._assembly = None
            raise AuthenticationError("record authentication failed") from None
        replay.update(counter)
        recv.records += 1
        recv.bytes += size
        stats = self.stats
        stats.records_received += 1
        if len(self._recv) > 1:
            self._after_authenticated(recv)
        if (
            recv.records > self._reject_records
            or recv.bytes > self._reject_bytes
            or self._now > recv.started_at + self._reject_age
        ):
            raise KeyLifetimeError("peer kept using an exhausted key")
        if rtype is RecordType.MESSAGE and self._assembly is None and self._peer_confirmed:
            stats.messages_received += 1
            stats.bytes_received += size
            self._events.append(MessageReceived(plaintext))
        else:
            self._dispatch(rtype, plaintext, size)
        if self._initiator:
            self._maybe_request_rekey()

    def _after_authenticated(self, recv: _RecvState) -> None:
        """A record of `recv.epoch` authenticated: retire older epochs, finish the rekey."""
        older = [s for e, s in self._recv.items() if e < recv.epoch and s.expires_at is None]
        if not older:
            return
        for state in older:
            if self._config.replay_window is None:
                # Strict order: the peer sent every old-epoch record before the first new one.
                del self._recv[state.epoch]
            else:
                state.expires_at = self._now + self._config.old_epoch_grace
        if self._initiator and self._next_keys is not None and recv.epoch == self._next_keys.epoch:
            self._complete_rekey_initiator()

    def _dispatch(self, rtype: RecordType, plaintext: bytes, size: int) -> None:
        if not self._peer_confirmed:
            if rtype is not RecordType.CONFIRM or plaintext:
                raise RemoteProtocolError("the initiator's first record must be CONFIRM")
            self._peer_confirmed = True
            return
        if rtype is RecordType.CONFIRM:
            raise RemoteProtocolError("unexpected CONFIRM")
        if rtype is RecordType.FRAGMENT:
            self._fragment_done(size)
            return
        if self._assembly is not None and rtype in _MESSAGE_STARTS:
            raise RemoteProtocolError("new message before the previous one was complete")
        if rtype is RecordType.MESSAGE:
            self.stats.messages_received += 1
            self.stats.bytes_received += size
            self._events.append(MessageReceived(plaintext))
        elif rtype is RecordType.MESSAGE_START:
            total = decode_message_start(plaintext)
            if total > self._config.max_message_size or total <= self._config.max_record_payload:
                raise RemoteProtocolError("fragmented message of a forbidden size")
            self._assembly = _Assembly(_AssemblyKind.MESSAGE, bytearray(total), None)
        elif rtype is RecordType.ARRAY_START:
            self._start_array(decode_array_header(plaintext))
        elif rtype is RecordType.OTP_MESSAGE:
            if self._assembly is not None:
                raise RemoteProtocolError("OTP message inside a fragmented message")
            self._otp_pending = decode_otp_payload(plaintext)
            self._events.append(OtpKeysRequested(self._otp_pending.key_ids))
        elif rtype is RecordType.REKEY:
            if self._initiator or self._rekey_key_id is not None:
                raise RemoteProtocolError("unexpected REKEY")
            if self._keys.epoch >= MAX_EPOCH:
                raise EpochExhaustedError("the peer announced a rekey after the last epoch")
            self._rekey_key_id = decode_key_id(plaintext)
            self._events.append(RekeyKeyRequested(self._rekey_key_id))
        elif rtype is RecordType.REKEY_ACK:
            # Authenticated under keys derived from the announced key ID, so agreement on the ID
            # is already proven; the explicit ID is a consistency check.
            if not self._initiator:
                raise RemoteProtocolError("unexpected REKEY_ACK")
            decode_key_id(plaintext)
        elif rtype is RecordType.CLOSE:
            if self._assembly is not None or plaintext:
                raise RemoteProtocolError("CLOSE inside a message")
            self._state = next_state(self._state, Transition.RECEIVE_CLOSE)
            self._events.append(CloseReceived())

    def _start_array(self, header: ArrayHeader) -> None:
        nbytes = header.nbytes
        if nbytes > self._config.max_array_size:
            raise RemoteProtocolError("array larger than max_array_size")
        try:
            array = np.empty(header.shape, dtype=np.dtype(header.dtype))
        except (ValueError, TypeError) as exc:
            raise RemoteProtocolError("unusable array header") from exc
        if nbytes == 0:
            self.stats.messages_received += 1
            self._events.append(ArrayReceived(array))
            return
        self._assembly = _Assembly(_AssemblyKind.ARRAY, None, array)

    def _fragment_done(self, size: int) -> None:
        assembly = self._assembly
        if assembly is None:  # checked before decryption; kept for the type checker
            raise RemoteProtocolError("fragment outside a message")
        assembly.offset += size
        if assembly.offset < assembly.total:
            return
        self._assembly = None
        assembly.view.release()
        self.stats.messages_received += 1
        self.stats.bytes_received += assembly.total
        if assembly.kind is _AssemblyKind.ARRAY and assembly.array is not None:
            self._events.append(ArrayReceived(assembly.array))
        elif assembly.buffer is not None:
            self._events.append(MessageReceived(bytes(assembly.buffer)))

    # ------------------------------------------------------------------ helpers

    def _new_recv_state(self, epoch: int, key: bytes | bytearray, now: float) -> _RecvState:
        window = self._config.replay_window
        replay: ReplayFilter = StrictOrder() if window is None else ReplayWindow(window)
        return _RecvState(epoch, _aead(self._config.cipher, key), replay, now)

    def _check_alive(self) -> None:
        if self._state is RecordState.ERROR:
            raise LocalProtocolError("the record layer failed earlier and is in ERROR state")

    def _check_can_send(self) -> None:
        self._check_alive()
        if self._state not in (RecordState.OPEN, RecordState.REMOTE_CLOSED):
            raise LocalProtocolError("sending is closed")

    def _fail(self, exc: QkdlinkError) -> NoReturn:
        """Enter ERROR for good, drop keys and buffers, raise `exc`."""
        self._state = next_state(self._state, Transition.FAIL)
        self._assembly = None
        self._otp_pending = None
        self._priority.clear()
        self._queue.clear()
        self._keys.wipe()
        if self._next_keys is not None:
            self._next_keys.wipe()
        self._recv.clear()
        self._inbuf = bytearray()
        raise exc
