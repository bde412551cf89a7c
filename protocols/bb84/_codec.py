"""Binary wire format of the post-processing messages: symmetric push/pull over a buffer.

A frame is `type (u8) | length (u32) | payload | tag (16 bytes)`; the tag (see `_auth`) covers
type, length and payload. Integers are big-endian; bit arrays are numpy `packbits` (MSB first)
with their length sent first. Every decode checks lengths and caps; truncation and trailing
bytes are decode errors. Parsers raise `DecodeError`, which the endpoints turn into
`RemoteProtocolError` where peer data enters.
"""

from __future__ import annotations

import enum
import functools
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from protocols.bb84 import _sift_kernels as kernels

__all__ = [
    "FRAME_HEADER_BYTES",
    "MESSAGE_TYPES",
    "UNTAGGED",
    "Abort",
    "Confirm",
    "DecodeError",
    "DisclosedBits",
    "Estimate",
    "Message",
    "MessageType",
    "ParityQuery",
    "ParityReply",
    "PrivacyAmplification",
    "Sift",
    "SiftReply",
    "Verify",
    "decode_payload",
    "encode_payload",
    "encode_payload_buffer",
    "message_type",
]

FRAME_HEADER_BYTES = 5
MAX_REASON_BYTES = 1024
MAX_CLASSES = 8
MAX_PASSES = 64


class DecodeError(Exception):
    """Internal: a payload does not parse. Becomes RemoteProtocolError at the boundary."""


class MessageType(enum.IntEnum):
    """Wire codes of the messages."""

    SIFT = 1
    SIFT_REPLY = 2
    TEST_BITS = 3
    ESTIMATE = 4
    PARITY_QUERY = 5
    PARITY_REPLY = 6
    VERIFY = 7
    PRIVACY_AMPLIFICATION = 8
    ABORT = 9
    CONFIRM = 10


MESSAGE_TYPES: dict[int, MessageType] = {int(kind): kind for kind in MessageType}
"""Wire code -> type (a dict lookup: cheaper than calling the enum once per message)."""

UNTAGGED = frozenset({MessageType.PARITY_QUERY, MessageType.PARITY_REPLY})
"""Cascade rounds carry no tag of their own: the next tagged message in the same direction
authenticates them together with itself (see `_auth`)."""


_U8 = struct.Struct(">B")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")


@functools.cache
def _wire(dtype: str) -> np.dtype[Any]:
    return np.dtype(dtype)


@functools.cache
def _native(dtype: str) -> np.dtype[Any]:
    return np.dtype(dtype).newbyteorder("=")


class Buffer:
    """A write or read cursor over bytes; every pull checks it stays inside the data.

    Pulls read in place (`unpack_from`, `np.frombuffer` at an offset): one copy per field at
    most, so a payload may be a memoryview of the receive buffer.
    """

    __slots__ = ("_data", "_out", "_pos", "_size")

    def __init__(self, data: bytes | memoryview = b"") -> None:
        self._data = data
        self._pos = 0
        self._out: list[bytes | memoryview] = []
        self._size = 0

    # -- push ---------------------------------------------------------------------------------
    def _push(self, part: bytes | memoryview) -> None:
        self._out.append(part)
        self._size += len(part)

    def push_raw(self, value: bytes) -> None:
        """Bytes already in wire format."""
        self._push(value)

    def push_u8(self, value: int) -> None:
        self._push(_U8.pack(value))

    def push_u32(self, value: int) -> None:
        self._push(_U32.pack(value))

    def push_u64(self, value: int) -> None:
        self._push(_U64.pack(value))

    def push_f64(self, value: float) -> None:
        self._push(_F64.pack(value))

    def push_bytes(self, value: bytes) -> None:
        self.push_u32(len(value))
        self._push(value)

    def push_bits(self, bits: NDArray[np.uint8]) -> None:
        packed = np.packbits(bits).tobytes()
        self._out += (_U32.pack(bits.shape[0]), packed)
        self._size += 4 + len(packed)

    def push_array(self, values: NDArray[np.generic], dtype: str) -> None:
        self.push_u32(int(values.shape[0]))
        # A byte view of the array: joined from its buffer later (no intermediate bytes copy).
        self._push(np.ascontiguousarray(values, dtype=_wire(dtype)).data.cast("B"))

    @property
    def size(self) -> int:
        """Bytes pushed so far."""
        return self._size

    def parts(self) -> list[bytes | memoryview]:
        """The pushed fields in order (byte views: valid while the pushed arrays are)."""
        return self._out

    def getvalue(self) -> bytes:
        return b"".join(self._out)

    # -- pull ---------------------------------------------------------------------------------
    def _advance(self, size: int) -> int:
        """Claim the next `size` bytes; return where they start."""
        start = self._pos
        end = start + size
        if size < 0 or end > len(self._data):
            raise DecodeError("truncated message")
        self._pos = end
        return start

    def pull_u8(self) -> int:
        value: int = _U8.unpack_from(self._data, self._advance(1))[0]
        return value

    def pull_u32(self) -> int:
        value: int = _U32.unpack_from(self._data, self._advance(4))[0]
        return value

    def pull_u64(self) -> int:
        value: int = _U64.unpack_from(self._data, self._advance(8))[0]
        return value

    def pull_f64(self) -> float:
        value: float = _F64.unpack_from(self._data, self._advance(8))[0]
        return value

    def pull_bytes(self, cap: int) -> bytes:
        size = self.pull_u32()
        if size > cap:
            raise DecodeError("field exceeds its cap")
        start = self._advance(size)
        return bytes(self._data[start : start + size])

    def pull_bits(self, cap: int) -> NDArray[np.uint8]:
        size = self.pull_u32()
        if size > cap:
            raise DecodeError("bit field exceeds its cap")
        count = (size + 7) // 8
        start = self._advance(count)
        # Padding bits must be zero: one encoding per value, so tags cannot be malleated.
        if size % 8 and self._data[start + count - 1] & ((1 << (8 - size % 8)) - 1):
            raise DecodeError("non-zero padding bits")
        raw = np.frombuffer(self._data, dtype=np.uint8, count=count, offset=start)
        return np.unpackbits(raw, count=size)

    def pull_array(self, dtype: str, cap: int) -> NDArray[np.generic]:
        """`size` values of wire type `dtype`, copied into the same type in native byte order."""
        return self.pull_array_view(dtype, cap).astype(_native(dtype))

    def pull_array_view(self, dtype: str, cap: int) -> NDArray[np.generic]:
        """Like `pull_array`, but a read-only view of the data (copy it out before it goes)."""
        size = self.pull_u32()
        if size > cap:
            raise DecodeError("array exceeds its cap")
        wire = _wire(dtype)
        start = self._advance(size * wire.itemsize)
        return np.frombuffer(self._data, dtype=wire, count=size, offset=start)

    def finish(self) -> None:
        """Raise unless every byte was consumed."""
        if self._pos != len(self._data):
            raise DecodeError("trailing bytes")


@dataclass(frozen=True, slots=True, eq=False)
class Sift:
    """Bob → Alice: which pulses clicked and the basis Bob measured each in."""

    pulse_index: NDArray[np.int64]
    """Strictly increasing pulse numbers of Bob's detections."""
    bases: NDArray[np.uint8]
    """Bob's basis per detection."""


@dataclass(frozen=True, slots=True, eq=False)
class SiftReply:
    """Alice → Bob: Alice's basis for each announced pulse."""

    bases: NDArray[np.uint8]
    """Alice's basis per announced detection."""


@dataclass(frozen=True, slots=True, eq=False)
class DisclosedBits:
    """Bob → Alice: Bob's bits on every sifted X-basis pulse (disclosed for estimation)."""

    bits: NDArray[np.uint8]
    """Bob's X-basis bits in pulse order."""


@dataclass(frozen=True, slots=True, eq=False)
class Estimate:
    """Alice → Bob: parameter estimation passed; Cascade setup and all top-level parities."""

    qber_estimate: float
    """Error rate Cascade sizes its blocks for."""
    qber_x: float
    """X-basis error rate over all classes."""
    qber_by_class: tuple[float, ...]
    """X-basis error rate per intensity class."""
    vacuum_bits: float
    """Lower bound s_{Z,0}."""
    single_photon_bits: float
    """Lower bound s_{Z,1}."""
    phase_error: float
    """Upper bound φ_Z."""
    cascade_seed: bytes
    """Seed of the public Cascade permutations (16 bytes)."""
    top_parities: NDArray[np.uint8]
    """Alice's parity of every top-level block of every pass, pass by pass."""


@dataclass(frozen=True, slots=True, eq=False)
class ParityQuery:
    """Bob → Alice: which sub-block parities Bob needs (pass number and tree node each)."""

    passes: NDArray[np.uint8]
    """Cascade pass of each query."""
    nodes: NDArray[np.uint32]
    """Node of the pass's binary tree of each query."""


@dataclass(frozen=True, slots=True, eq=False)
class ParityReply:
    """Alice → Bob: Alice's parity of each queried node, in query order."""

    parities: NDArray[np.uint8]
    """One parity bit per query."""


@dataclass(frozen=True, slots=True, eq=False)
class Verify:
    """Bob → Alice: error correction done; a universal-hash tag of Bob's corrected key."""

    errors_corrected: int
    """Bits Bob flipped (public: each completed binary search reveals one)."""
    seed: bytes
    """Seed of the verification hash, chosen by Bob after error correction."""
    tag: bytes = field(repr=False)
    """Hash of Bob's corrected key."""


@dataclass(frozen=True, slots=True, eq=False)
class PrivacyAmplification:
    """Alice → Bob: verification passed; Toeplitz seed and final length."""

    final_bits: int
    """ℓ, the length of the privacy-amplified key."""
    seed: bytes
    """Random bits of the Toeplitz matrix (packed)."""


@dataclass(frozen=True, slots=True)
class Confirm:
    """Bob → Alice: Bob authenticated everything and holds the final key."""


@dataclass(frozen=True, slots=True)
class Abort:
    """Either way: the block ends without key, for the stated reason."""

    reason: str
    """Human-readable reason (no key material)."""


Message = (
    Sift
    | SiftReply
    | DisclosedBits
    | Estimate
    | ParityQuery
    | ParityReply
    | Verify
    | PrivacyAmplification
    | Confirm
    | Abort
)

_TYPES: dict[type[object], MessageType] = {
    Sift: MessageType.SIFT,
    SiftReply: MessageType.SIFT_REPLY,
    DisclosedBits: MessageType.TEST_BITS,
    Estimate: MessageType.ESTIMATE,
    ParityQuery: MessageType.PARITY_QUERY,
    ParityReply: MessageType.PARITY_REPLY,
    Verify: MessageType.VERIFY,
    PrivacyAmplification: MessageType.PRIVACY_AMPLIFICATION,
    Abort: MessageType.ABORT,
    Confirm: MessageType.CONFIRM,
}


def message_type(message: Message) -> MessageType:
    """The wire code of a message."""
    return _TYPES[type(message)]


def _gaps(index: NDArray[np.int64]) -> tuple[int, NDArray[np.generic]]:
    """(width, gaps between consecutive indices as big-endian u4, or u8 if some gap needs it).

    One compiled pass writes the u4 wire bytes straight away (no int64 array of differences).
    """
    index = np.ascontiguousarray(index, dtype=np.int64)
    narrow = np.empty(max(index.shape[0] - 1, 0), dtype=">u4")
    if kernels.gaps_be32(index, narrow.view(np.uint8)):
        return 4, narrow
    return 8, np.diff(index).astype(">u8")


def _indices_be32(first: int, raw_gaps: NDArray[np.generic], count: int) -> NDArray[np.int64]:
    """Pulse indices from the first one and u4 gaps, summed in one compiled pass.

    Fewer than 2^30 u4 gaps fit in a frame (u32 length), so first (< 2^62) plus their sum stays
    below 2^63: the running sum cannot overflow.
    """
    if raw_gaps.shape[0] != count - 1:
        raise DecodeError("pulse indices must be strictly increasing")
    index = np.empty(count, dtype=np.int64)
    in_range = first < 1 << 62
    if not kernels.prefix_be32(raw_gaps.view(np.uint8), first if in_range else 0, index):
        raise DecodeError("pulse indices must be strictly increasing")
    if not in_range or int(index[-1]) >= 1 << 62:
        raise DecodeError("pulse index out of range")
    return index


def _indices_be64(first: int, raw_gaps: NDArray[np.generic], count: int) -> NDArray[np.int64]:
    """Pulse indices from the first one and u8 gaps (range-checked before summing)."""
    # Gaps are widened straight into the index array, which is then summed in place.
    index = np.empty(raw_gaps.shape[0] + 1, dtype=np.int64)
    gaps = index[1:]
    gaps[:] = raw_gaps  # gaps >= 2^63 wrap negative: caught as out of range
    if gaps.size and (int(gaps.max()) >= 1 << 62 or int(gaps.min()) < 0):
        raise DecodeError("pulse index out of range")
    if gaps.shape[0] != count - 1 or (gaps.size and gaps.min() == 0):
        raise DecodeError("pulse indices must be strictly increasing")
    # Bounded in floats before the in-place integer sum.
    if first >= 1 << 62 or first + int(gaps.sum(dtype=np.float64)) >= 1 << 62:
        raise DecodeError("pulse index out of range")
    index[0] = first  # only now: a first index >= 2^63 would not fit the int64 array
    np.cumsum(index, out=index)
    if int(index[-1]) >= 1 << 62:
        raise DecodeError("pulse index out of range")
    return index


def encode_payload(message: Message) -> bytes:
    """The payload bytes of a message (without frame header and tag)."""
    return encode_payload_buffer(message).getvalue()


def encode_payload_buffer(message: Message) -> Buffer:
    """The payload of a message as pushed fields (`Buffer.parts`), not yet joined."""
    buf = Buffer()
    # Cascade's rounds are most of a block's messages: tested first.
    if type(message) is ParityReply:
        buf.push_bits(message.parities)
    elif type(message) is ParityQuery:
        _push_query(buf, message)
    elif isinstance(message, Sift):
        index = message.pulse_index
        buf.push_u32(int(index.shape[0]))
        if index.shape[0]:
            buf.push_u64(int(index[0]))
            # Gaps between detections: u32 each, or u64 if some gap needs it (width byte first).
            width, gaps = _gaps(index)
            buf.push_u8(width)
            buf.push_array(gaps, f">u{width}")
        buf.push_bits(message.bases)
    elif isinstance(message, SiftReply):
        buf.push_bits(message.bases)
    elif isinstance(message, DisclosedBits):
        buf.push_bits(message.bits)
    elif isinstance(message, Estimate):
        for value in (
            message.qber_estimate,
            message.qber_x,
            message.vacuum_bits,
            message.single_photon_bits,
            message.phase_error,
        ):
            buf.push_f64(value)
        buf.push_u8(len(message.qber_by_class))
        for value in message.qber_by_class:
            buf.push_f64(value)
        buf.push_bytes(message.cascade_seed)
        buf.push_bits(message.top_parities)
    elif isinstance(message, Verify):
        buf.push_u32(message.errors_corrected)
        buf.push_bytes(message.seed)
        buf.push_bytes(message.tag)
    elif isinstance(message, PrivacyAmplification):
        buf.push_u32(message.final_bits)
        buf.push_bytes(message.seed)
    elif isinstance(message, Abort):
        buf.push_bytes(message.reason.encode("utf-8"))
    return buf


def _push_query(buf: Buffer, message: ParityQuery) -> None:
    """Small and frequent: one bytes object rather than four pushed fields."""
    passes, nodes = message.passes, message.nodes
    buf.push_raw(
        _U32.pack(passes.shape[0])
        + passes.astype(np.uint8, copy=False).tobytes()
        + _U32.pack(nodes.shape[0])
        + nodes.astype(_wire(">u4"), copy=False).tobytes()
    )


def _decode_query(payload: bytes | memoryview, cap: int) -> ParityQuery:
    """`ParityQuery`: u32 count, passes (u1), u32 count, nodes (>u4); the checks and errors of
    `Buffer.pull_array` twice, in the same order."""
    end = len(payload)
    if end < 4:
        raise DecodeError("truncated message")
    count: int = _U32.unpack_from(payload, 0)[0]
    if count > cap:
        raise DecodeError("array exceeds its cap")
    second = 4 + count
    if second + 4 > end:
        raise DecodeError("truncated message")
    nodes_count: int = _U32.unpack_from(payload, second)[0]
    if nodes_count > cap:
        raise DecodeError("array exceeds its cap")
    stop = second + 4 + 4 * nodes_count
    if stop > end:
        raise DecodeError("truncated message")
    if count != nodes_count:
        raise DecodeError("one pass per node")
    if stop != end:
        raise DecodeError("trailing bytes")
    passes = np.frombuffer(payload, dtype=np.uint8, count=count, offset=4).copy()
    nodes = np.frombuffer(payload, dtype=_wire(">u4"), count=count, offset=second + 4)
    return ParityQuery(passes, nodes.astype(np.uint32))


def _decode_reply(payload: bytes | memoryview, cap: int) -> ParityReply:
    """`ParityReply`: one bit field; the checks and errors of `Buffer.pull_bits`."""
    end = len(payload)
    if end < 4:
        raise DecodeError("truncated message")
    size: int = _U32.unpack_from(payload, 0)[0]
    if size > cap:
        raise DecodeError("bit field exceeds its cap")
    count = (size + 7) // 8
    if 4 + count > end:
        raise DecodeError("truncated message")
    # Padding bits must be zero: one encoding per value, so tags cannot be malleated.
    if size % 8 and payload[3 + count] & ((1 << (8 - size % 8)) - 1):
        raise DecodeError("non-zero padding bits")
    if 4 + count != end:
        raise DecodeError("trailing bytes")
    raw = np.frombuffer(payload, dtype=np.uint8, count=count, offset=4)
    return ParityReply(np.unpackbits(raw, count=size))


def decode_payload(kind: int, payload: bytes | memoryview, cap: int) -> Message:
    """Parse a payload of wire type `kind`; `cap` bounds every count (bits or entries).

    Raises:
        DecodeError: unknown type, truncation, trailing bytes, over-cap or invalid fields.
    """
    mtype = MESSAGE_TYPES.get(kind)
    if mtype is None:
        raise DecodeError("unknown message type")
    # Cascade's rounds are most of a block's messages: parsed without the Buffer machinery.
    if mtype is MessageType.PARITY_QUERY:
        return _decode_query(payload, cap)
    if mtype is MessageType.PARITY_REPLY:
        return _decode_reply(payload, cap)
    buf = Buffer(payload)
    message: Message
    if mtype is MessageType.SIFT:
        count = buf.pull_u32()
        if count > cap:
            raise DecodeError("too many detections")
        if count:
            first = buf.pull_u64()
            width = buf.pull_u8()
            if width not in (4, 8):
                raise DecodeError("gap width must be 4 or 8 bytes")
            raw_gaps = buf.pull_array_view(">u4" if width == 4 else ">u8", cap)
            if width == 4:
                index = _indices_be32(first, raw_gaps, count)
            else:
                index = _indices_be64(first, raw_gaps, count)
        else:
            index = np.zeros(0, dtype=np.int64)
        bases = buf.pull_bits(cap)
        if bases.shape[0] != count:
            raise DecodeError("one basis per detection")
        message = Sift(index, bases)
    elif mtype is MessageType.SIFT_REPLY:
        message = SiftReply(buf.pull_bits(cap))
    elif mtype is MessageType.TEST_BITS:
        message = DisclosedBits(buf.pull_bits(cap))
    elif mtype is MessageType.ESTIMATE:
        values = [buf.pull_f64() for _ in range(5)]
        classes = buf.pull_u8()
        if classes > MAX_CLASSES:
            raise DecodeError("too many intensity classes")
        per_class = tuple(buf.pull_f64() for _ in range(classes))
        seed = buf.pull_bytes(64)
        if len(seed) != 16:
            raise DecodeError("cascade seed must be 16 bytes")
        parities = buf.pull_bits(cap)
        qber = values[0]
        if not 0.0 <= qber <= 0.5:
            raise DecodeError("qber estimate out of range")
        message = Estimate(
            qber, values[1], per_class, values[2], values[3], values[4], seed, parities
        )
    elif mtype is MessageType.VERIFY:
        errors = buf.pull_u32()
        seed = buf.pull_bytes(cap // 8 + 64)
        tag = buf.pull_bytes(64)
        message = Verify(errors, seed, tag)
    elif mtype is MessageType.PRIVACY_AMPLIFICATION:
        final = buf.pull_u32()
        seed = buf.pull_bytes(cap // 8 + 64)
        message = PrivacyAmplification(final, seed)
    elif mtype is MessageType.CONFIRM:
        message = Confirm()
    else:
        raw = buf.pull_bytes(MAX_REASON_BYTES)
        try:
            message = Abort(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise DecodeError("abort reason is not UTF-8") from None
    buf.finish()
    return message
