"""Wire format of the two qkdlink handshake messages and of their encrypted payloads.

Initiation (initiator -> responder)::

    u8 type = 1 | u8 version = 1 | u8 mode | key_ID (16-byte UUID) | Noise message 1
    Noise payload 1 (encrypted) = TAI64N timestamp (12) [| ML-KEM-768 encapsulation key (1184)]

Response (responder -> initiator)::

    u8 type = 2 | u8 version = 1 | Noise message 2
    Noise payload 2 (encrypted) = [ML-KEM-768 ciphertext (1088)]

The clear header of the initiation lets the responder fetch the QKD key (``dec_keys``) before
any cryptography; every header field is also in the Noise prologue, so a changed byte fails
authentication. All sizes are fixed by the mode, so any other length is a format error.
Decoders raise `HandshakeFormatError`, which the handshake turns into `RemoteProtocolError`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Final

from protocols.channel._hybrid import (
    MLKEM768_CIPHERTEXT_LEN,
    MLKEM768_ENCAPSULATION_KEY_LEN,
    HandshakeMode,
)

__all__ = [
    "INITIATION_HEADER_LEN",
    "PROTOCOL_VERSION",
    "HandshakeFormatError",
    "Initiation",
    "decode_initiation",
    "decode_initiation_mode",
    "decode_initiation_payload",
    "decode_response",
    "decode_response_payload",
    "decode_tai64n",
    "encode_initiation",
    "encode_initiation_payload",
    "encode_response",
    "encode_response_payload",
    "encode_tai64n",
]

PROTOCOL_VERSION: Final = 1
TYPE_INITIATION: Final = 1
TYPE_RESPONSE: Final = 2
INITIATION_HEADER_LEN: Final = 3 + 16
RESPONSE_HEADER_LEN: Final = 2
TAI64N_LEN: Final = 12
# TAI64 labels count seconds from 2**62 at 1970-01-01 TAI; UTC was TAI-10 s then (as WireGuard).
_TAI64_BASE: Final = 2**62 + 10
_MAX_SECONDS: Final = 2**40
"""Timestamps from this many seconds after 1970 on (year 36812) are refused by both ends."""
_DH_LEN: Final = 32
_TAG_LEN: Final = 16


class HandshakeFormatError(Exception):
    """Internal: bytes that are not a well-formed handshake message of this version."""


@dataclass(frozen=True, slots=True)
class Initiation:
    """The clear header of a first handshake message, and the Noise message after it."""

    mode: HandshakeMode
    """The hybrid mode the initiator runs."""
    key_id: uuid.UUID
    """The QKD key ID (ETSI GS QKD 014) whose key is the PSK."""
    noise_message: bytes = field(repr=False)
    """Noise IKpsk2 message 1."""


def _initiation_noise_len(mode: HandshakeMode) -> int:
    payload = TAI64N_LEN + (MLKEM768_ENCAPSULATION_KEY_LEN if mode.uses_mlkem else 0)
    return _DH_LEN + (_DH_LEN + _TAG_LEN) + payload + _TAG_LEN


def _response_noise_len(mode: HandshakeMode) -> int:
    return _DH_LEN + (MLKEM768_CIPHERTEXT_LEN if mode.uses_mlkem else 0) + _TAG_LEN


def encode_initiation(initiation: Initiation) -> bytes:
    return (
        bytes((TYPE_INITIATION, PROTOCOL_VERSION, initiation.mode.wire_code))
        + initiation.key_id.bytes
        + initiation.noise_message
    )


def decode_initiation_mode(data: bytes) -> HandshakeMode:
    """The mode named by a first message's header (checked before its length, so that a
    responder can report a mode mismatch as such)."""
    if len(data) < INITIATION_HEADER_LEN:
        raise HandshakeFormatError("initiation shorter than its header")
    if data[0] != TYPE_INITIATION:
        raise HandshakeFormatError("not a qkdlink handshake initiation")
    if data[1] != PROTOCOL_VERSION:
        raise HandshakeFormatError(f"unsupported handshake version {data[1]}")
    mode = HandshakeMode.from_wire_code(data[2])
    if mode is None:
        raise HandshakeFormatError(f"unknown hybrid mode code {data[2]}")
    return mode


def decode_initiation(data: bytes) -> Initiation:
    """Parse a first handshake message (header and exact length; no cryptography)."""
    mode = decode_initiation_mode(data)
    noise_message = bytes(data[INITIATION_HEADER_LEN:])
    if len(noise_message) != _initiation_noise_len(mode):
        raise HandshakeFormatError("initiation has the wrong length for its mode")
    return Initiation(mode, uuid.UUID(bytes=bytes(data[3:INITIATION_HEADER_LEN])), noise_message)


def encode_response(noise_message: bytes) -> bytes:
    return bytes((TYPE_RESPONSE, PROTOCOL_VERSION)) + noise_message


def decode_response(data: bytes, mode: HandshakeMode) -> bytes:
    """The Noise message 2 inside a response of the expected mode."""
    if len(data) < RESPONSE_HEADER_LEN or data[0] != TYPE_RESPONSE:
        raise HandshakeFormatError("not a qkdlink handshake response")
    if data[1] != PROTOCOL_VERSION:
        raise HandshakeFormatError(f"unsupported handshake version {data[1]}")
    if len(data) - RESPONSE_HEADER_LEN != _response_noise_len(mode):
        raise HandshakeFormatError("response has the wrong length for the mode")
    return bytes(data[RESPONSE_HEADER_LEN:])


def encode_tai64n(now: float) -> bytes:
    """A TAI64N label (cr.yp.to/libtai/tai64.html) of a POSIX time, leap seconds ignored.

    Raises:
        ValueError: `now` is not finite, negative, or beyond what `decode_tai64n` accepts.
    """
    if not math.isfinite(now) or not 0 <= now < _MAX_SECONDS:
        raise ValueError("now must be a finite, non-negative POSIX time before 2**40 s")
    seconds = math.floor(now)
    nanoseconds = min(round((now - seconds) * 1e9), 999_999_999)
    return (_TAI64_BASE + seconds).to_bytes(8, "big") + nanoseconds.to_bytes(4, "big")


def decode_tai64n(data: bytes) -> float:
    """The POSIX time of a TAI64N label."""
    if len(data) != TAI64N_LEN:
        raise HandshakeFormatError("timestamp must be 12 bytes")
    seconds = int.from_bytes(data[:8], "big") - _TAI64_BASE
    nanoseconds = int.from_bytes(data[8:], "big")
    if not 0 <= seconds < _MAX_SECONDS or nanoseconds >= 1_000_000_000:
        raise HandshakeFormatError("timestamp out of range")
    return seconds + nanoseconds / 1e9


def encode_initiation_payload(timestamp: bytes, encapsulation_key: bytes | None) -> bytes:
    return timestamp + (encapsulation_key or b"")


def decode_initiation_payload(payload: bytes, mode: HandshakeMode) -> tuple[float, bytes | None]:
    """(timestamp, ML-KEM encapsulation key or None) of an initiation's decrypted payload."""
    expected = TAI64N_LEN + (MLKEM768_ENCAPSULATION_KEY_LEN if mode.uses_mlkem else 0)
    if len(payload) != expected:
        raise HandshakeFormatError("initiation payload has the wrong length")
    timestamp = decode_tai64n(payload[:TAI64N_LEN])
    return timestamp, (payload[TAI64N_LEN:] if mode.uses_mlkem else None)


def encode_response_payload(ciphertext: bytes | None) -> bytes:
    return ciphertext or b""


def decode_response_payload(payload: bytes, mode: HandshakeMode) -> bytes | None:
    """The ML-KEM ciphertext of a response's decrypted payload (None without ML-KEM)."""
    expected = MLKEM768_CIPHERTEXT_LEN if mode.uses_mlkem else 0
    if len(payload) != expected:
        raise HandshakeFormatError("response payload has the wrong length")
    return payload if mode.uses_mlkem else None
