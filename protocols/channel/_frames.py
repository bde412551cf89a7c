"""Wire format of qkdlink records: the 17-byte header, record types and the small payload codecs.

A record on the wire is ``header || ciphertext``, where the header is::

    type (u8) | epoch (u32) | counter (u64) | length (u32)      -- network byte order

``length`` counts the AEAD ciphertext including its 16-byte tag. The associated data of every
record is ``header || offset (u64)``, where ``offset`` is the position of a fragment inside the
message being reassembled (0 for every other record type). The offset is never sent: both ends
know it, so a fragment that is moved, dropped or reordered fails authentication.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass

__all__ = [
    "AAD",
    "HEADER",
    "HEADER_SIZE",
    "TAG_SIZE",
    "ArrayHeader",
    "FrameError",
    "OtpPayload",
    "RecordType",
    "decode_array_header",
    "decode_key_id",
    "decode_message_start",
    "decode_otp_payload",
    "encode_array_header",
    "encode_key_id",
    "encode_message_start",
    "encode_otp_payload",
]

HEADER = struct.Struct("!BIQI")
"""type, epoch, counter, ciphertext length."""
HEADER_SIZE = HEADER.size
AAD = struct.Struct("!BIQIQ")
"""The associated data: the header fields followed by the (implicit) fragment offset."""
TAG_SIZE = 16
"""AES-GCM and ChaCha20-Poly1305 tags are 16 bytes (RFC 5116, RFC 8439)."""

_U64 = struct.Struct("!Q")
_MAX_KEY_ID = 255
_MAX_DIMS = 32
# Only plain numeric dtypes cross the wire: no object, string, void or structured dtypes, whose
# construction from peer data could run arbitrary code (pickled objects) or mis-size buffers.
_DTYPE_RE = re.compile(r"[<>|][biufc][1-9][0-9]?")


class FrameError(Exception):
    """Malformed record payload; converted to RemoteProtocolError where peer data enters."""


class RecordType(enum.IntEnum):
    """What a record carries; authenticated as part of the associated data."""

    MESSAGE = 1
    """A whole application message that fits in one record."""
    MESSAGE_START = 2
    """Start of a fragmented message: its total length (u64); data follows in FRAGMENTs."""
    ARRAY_START = 3
    """Start of a numpy array: dtype and shape; the raw buffer follows in FRAGMENTs."""
    FRAGMENT = 4
    """The next piece of the message or array being reassembled."""
    OTP_MESSAGE = 5
    """A one-time-pad message: key IDs of the pad, then ciphertext and Wegman-Carter tag."""
    REKEY = 6
    """The initiator announces the QKD key ID mixed into the next epoch."""
    REKEY_ACK = 7
    """The responder confirms, as the first record of the new epoch."""
    CLOSE = 8
    """Orderly end of the sender's direction; a stream that stops without it was truncated."""
    CONFIRM = 9
    """Key confirmation: the initiator's first record, proving it derived the same keys."""


def encode_message_start(total: int) -> bytes:
    """Payload of MESSAGE_START: the message's total length."""
    return _U64.pack(total)


def decode_message_start(payload: bytes) -> int:
    """Inverse of `encode_message_start`; raises FrameError on a bad length."""
    if len(payload) != _U64.size:
        raise FrameError("bad MESSAGE_START payload")
    (total,) = _U64.unpack(payload)
    return int(total)


@dataclass(frozen=True, slots=True)
class ArrayHeader:
    """dtype (numpy ``dtype.str``, e.g. ``'<f8'``) and shape of an array sent raw."""

    dtype: str
    """Byte order, kind and item size; only numeric kinds are accepted."""
    shape: tuple[int, ...]
    """Dimensions, C order."""

    @property
    def itemsize(self) -> int:
        return int(self.dtype[2:])

    @property
    def nbytes(self) -> int:
        n = self.itemsize
        for dim in self.shape:
            n *= dim
        return n


def encode_array_header(header: ArrayHeader) -> bytes:
    """``len(dtype) u8 | dtype | ndim u8 | dims u64 ...``."""
    dtype = header.dtype.encode("ascii")
    if not _DTYPE_RE.fullmatch(header.dtype) or len(header.shape) > _MAX_DIMS:
        raise ValueError(f"unsupported array dtype/shape {header.dtype!r} {header.shape!r}")
    dims = b"".join(_U64.pack(d) for d in header.shape)
    return bytes([len(dtype)]) + dtype + bytes([len(header.shape)]) + dims


def decode_array_header(payload: bytes) -> ArrayHeader:
    """Inverse of `encode_array_header`; raises FrameError on anything malformed."""
    try:
        n = payload[0]
        dtype = payload[1 : 1 + n].decode("ascii")
        ndim = payload[1 + n]
    except (IndexError, UnicodeDecodeError) as exc:
        raise FrameError("bad ARRAY_START payload") from exc
    if not _DTYPE_RE.fullmatch(dtype) or ndim > _MAX_DIMS:
        raise FrameError("unsupported array dtype or rank")
    dims = payload[2 + n :]
    if len(dims) != ndim * _U64.size:
        raise FrameError("bad ARRAY_START shape")
    shape = tuple(int(d) for (d,) in _U64.iter_unpack(dims))
    return ArrayHeader(dtype, shape)


def encode_key_id(key_id: bytes) -> bytes:
    """Payload of REKEY/REKEY_ACK: the QKD key ID (1..255 bytes, e.g. an ETSI 014 UUID)."""
    if not 0 < len(key_id) <= _MAX_KEY_ID:
        raise ValueError("key ID must be 1..255 bytes")
    return bytes([len(key_id)]) + key_id


def decode_key_id(payload: bytes) -> bytes:
    """Inverse of `encode_key_id`; trailing bytes are an error."""
    if not payload or payload[0] == 0 or len(payload) != 1 + payload[0]:
        raise FrameError("bad key ID payload")
    return bytes(payload[1:])


@dataclass(frozen=True, slots=True)
class OtpPayload:
    """Plaintext of an OTP_MESSAGE record (itself carried inside the record AEAD)."""

    key_ids: tuple[bytes, ...]
    """The QKD keys whose concatenated material is the pad, in order."""
    sealed: bytes
    """OTP ciphertext followed by the 16-byte Wegman-Carter tag."""


def encode_otp_payload(payload: OtpPayload) -> bytes:
    """``count u8 | (len u8 | key_id)* | sealed``."""
    if not 0 < len(payload.key_ids) <= _MAX_KEY_ID:
        raise ValueError("an OTP message uses 1..255 keys")
    ids = b"".join(encode_key_id(k) for k in payload.key_ids)
    return bytes([len(payload.key_ids)]) + ids + payload.sealed


def decode_otp_payload(payload: bytes) -> OtpPayload:
    """Inverse of `encode_otp_payload`; raises FrameError on anything malformed."""
    if not payload or payload[0] == 0:
        raise FrameError("bad OTP payload")
    pos = 1
    ids: list[bytes] = []
    for _ in range(payload[0]):
        if pos >= len(payload) or payload[pos] == 0:
            raise FrameError("bad OTP key ID")
        end = pos + 1 + payload[pos]
        if end > len(payload):
            raise FrameError("truncated OTP key ID")
        ids.append(bytes(payload[pos + 1 : end]))
        pos = end
    sealed = bytes(payload[pos:])
    if len(sealed) < TAG_SIZE:
        raise FrameError("truncated OTP message")
    return OtpPayload(tuple(ids), sealed)
