"""What both post-processing endpoints share: framing, authentication, state, events."""

from __future__ import annotations

import abc
import os
import struct
from collections import deque
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from protocols.bb84._auth import TAG_BYTES, AuthKeyPool, MessageAuthenticator
from protocols.bb84._codec import (
    FRAME_HEADER_BYTES,
    MESSAGE_TYPES,
    UNTAGGED,
    Abort,
    DecodeError,
    Message,
    MessageType,
    decode_payload,
    encode_payload_buffer,
    message_type,
)
from protocols.bb84._config import PostProcessingConfig
from protocols.bb84._state import Role, State, StateMachine
from protocols.bb84.events import KeyDistilled
from protocols.errors import (
    AuthenticationError,
    LocalProtocolError,
    PostProcessingAbortedError,
    RemoteProtocolError,
)

RandomSource = Callable[[int], bytes]


def random_bits(source: RandomSource, count: int) -> tuple[bytes, NDArray[np.uint8]]:
    """`count` uniform bits from `source`, packed (padding zeroed) and unpacked."""
    raw = bytearray(source((count + 7) // 8))
    if count % 8:
        raw[-1] &= (0xFF << (8 - count % 8)) & 0xFF
    packed = bytes(raw)
    return packed, np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=count)


def unpack_exact(packed: bytes, count: int) -> NDArray[np.uint8]:
    """Unpack exactly `count` bits; wrong length or non-zero padding is a decode error."""
    if len(packed) != (count + 7) // 8:
        raise DecodeError("packed field has the wrong length")
    raw = np.frombuffer(packed, dtype=np.uint8)
    if count % 8 and raw[-1] & ((1 << (8 - count % 8)) - 1):
        raise DecodeError("non-zero padding bits")
    return np.unpackbits(raw, count=count)


class Endpoint(abc.ABC):
    """Sans-IO core shared by Alice and Bob: bytes in, bytes and events out."""

    def __init__(
        self,
        role: Role,
        *,
        config: PostProcessingConfig,
        auth_pool: AuthKeyPool,
        random_source: RandomSource | None,
    ) -> None:
        self._config = config
        self._machine = StateMachine(role)
        self._auth = MessageAuthenticator(auth_pool, role=int(role))
        self._random: RandomSource = random_source or os.urandom
        self._inbox = bytearray()
        """Bytes of a frame not yet complete."""
        self._outbox: list[bytes] = []
        self._events: deque[KeyDistilled] = deque()
        self._abort_reason: str | None = None
        self.bytes_sent = 0
        """Classical bytes this end has queued for sending."""
        self.messages_sent = 0
        """Messages this end has queued for sending."""

    @property
    def state(self) -> State:
        """Where the exchange stands."""
        return self._machine.state

    @property
    def abort_reason(self) -> str | None:
        """Why the block ended without key (ours, or the peer's as "peer aborted: ..."), or None."""
        return self._abort_reason

    def data_to_send(self) -> bytes:
        """Bytes to hand to the transport (and forget)."""
        out = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
        self._outbox.clear()
        return out

    def next_event(self) -> KeyDistilled | None:
        """The next event, or None."""
        return self._events.popleft() if self._events else None

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer (any chunking).

        Raises:
            RemoteProtocolError: malformed, truncated, oversized or out-of-state data.
            AuthenticationError: a tag does not verify.
            PostProcessingAbortedError: the block ends without key (either side's decision).
            LocalProtocolError: the endpoint already failed or finished.
        """
        if self._machine.terminal:
            raise LocalProtocolError(f"endpoint is {self._machine.state.name}")
        if type(data) is not bytes:
            data = bytes(data)  # frames are kept as views until their tag: they must not change
        pos = 0
        try:
            if self._inbox:
                # A frame started earlier: wait until it is whole, then go on from one copy.
                self._inbox += data
                with memoryview(self._inbox) as pending:
                    if self._frame_at(pending, 0) is None:
                        return
                data = bytes(self._inbox)
                self._inbox.clear()
            view = memoryview(data)
            end = len(data)
            while pos < end and not self._machine.terminal:
                found = self._frame_at(view, pos)
                if found is None:
                    break
                mtype, size = found
                pos += size
                self._handle_frame(mtype, view[pos - size : pos])
        except DecodeError as exc:
            self._machine.fail()
            raise RemoteProtocolError(str(exc)) from None
        except (RemoteProtocolError, AuthenticationError):
            self._machine.fail()
            raise
        except PostProcessingAbortedError as exc:
            self._record_abort(exc)
            raise
        finally:
            # Whatever follows the last frame taken (a partial frame) waits for more bytes.
            if not self._inbox and pos < len(data) and not self._machine.terminal:
                self._inbox += memoryview(data)[pos:]

    def _record_abort(self, exc: PostProcessingAbortedError) -> None:
        """Enter ABORTED and keep the reason (whichever call of this end learned it)."""
        self._machine.abort()
        self._abort_reason = exc.reason

    def _frame_at(self, data: memoryview, pos: int) -> tuple[MessageType, int] | None:
        """Type and bytes (with the tag) of the frame at `pos`, or None if it is not complete."""
        if len(data) - pos < FRAME_HEADER_BYTES:
            return None
        kind: int
        length: int
        kind, length = struct.unpack_from(">BI", data, pos)
        if length > self._config.max_message_bytes:
            raise DecodeError("message exceeds the size cap")
        mtype = MESSAGE_TYPES.get(kind)
        if mtype is None:
            raise DecodeError("unknown message type")
        size = FRAME_HEADER_BYTES + length + (0 if mtype in UNTAGGED else TAG_BYTES)
        return (mtype, size) if len(data) - pos >= size else None

    def _handle_frame(self, mtype: MessageType, data: memoryview) -> None:
        """Authenticate, parse and act on one whole frame (a view of immutable bytes)."""
        tagged = mtype not in UNTAGGED
        end = len(data) - TAG_BYTES if tagged else len(data)
        # Views, not copies: the bytes cannot change, so what is authenticated is what is
        # parsed. Authenticate before parsing: hostile bytes reach the parser only if untagged,
        # and untagged frames are covered by the next tag anyway.
        self._auth.open(data[:end], bytes(data[end:]), tagged=tagged)
        message = decode_payload(mtype, data[FRAME_HEADER_BYTES:end], self._bit_cap())
        self._machine.on_receive(mtype)
        if isinstance(message, Abort):
            self._inbox.clear()
            # The reason is peer-chosen text: bounded and repr()-quoted so it cannot forge log
            # lines or flood an exception message.
            raise PostProcessingAbortedError(f"peer aborted: {message.reason[:200]!r}")
        self._on_message(message)

    def _bit_cap(self) -> int:
        return self._config.max_message_bytes * 8

    def _send(self, message: Message) -> None:
        mtype = message_type(message)
        self._machine.on_send(mtype)
        payload = encode_payload_buffer(message)
        if payload.size > self._config.max_message_bytes:
            raise LocalProtocolError("message exceeds max_message_bytes; raise the cap")
        pieces = [struct.pack(">BI", int(mtype), payload.size), *payload.parts()]
        if mtype in UNTAGGED:
            # Kept until the next tag covers it: its own immutable bytes.
            frame = b"".join(pieces)
            self._auth.seal(frame, tagged=False)
            out = frame
        else:
            # MACed piece by piece, then header, payload and tag joined in one copy.
            pieces.append(self._auth.seal(pieces, tagged=True))
            out = b"".join(pieces)
        self._outbox.append(out)
        self.bytes_sent += len(out)
        self.messages_sent += 1

    def _abort(self, reason: str) -> PostProcessingAbortedError:
        """Tell the peer (authenticated) and return the error for the caller to raise."""
        self._send(Abort(reason))
        return PostProcessingAbortedError(reason)

    @abc.abstractmethod
    def _on_message(self, message: Message) -> None:
        """Handle one authenticated, parsed, state-checked message from the peer."""
