"""The mesh's message header: tag, kind, and for arrays dtype and shape (sans-IO codec).

One mesh message is one header record on the pairwise link, followed by its payload either
inline (small messages) or as the next link message (large ones, so arrays are never copied into
a bigger buffer). Layout, all integers big-endian:

    version u8 | kind u8 | flags u8 | tag_len u16 | tag utf-8 | payload_len u64
    [kind = ARRAY: dtype_len u8 | dtype str | ndim u8 | ndim x u64 dims]
    [flags & INLINE: payload bytes]

Only plain numeric dtypes travel (never object dtypes: nothing is ever unpickled).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np

from qkdlink.errors import LocalProtocolError

__all__ = [
    "MAX_NDIM",
    "MAX_TAG_BYTES",
    "Header",
    "Kind",
    "WireError",
    "decode_header",
    "encode_header",
]

VERSION: Final = 1
MAX_TAG_BYTES: Final = 1024
MAX_NDIM: Final = 16
FLAG_INLINE: Final = 0x01
_ALLOWED_KINDS: Final = frozenset("biufc")
_FIXED = struct.Struct(">BBBH")


class WireError(Exception):
    """A malformed header; becomes `RemoteProtocolError` where peer data enters the mesh."""


class Kind(IntEnum):
    """What the payload is."""

    BYTES = 0
    ARRAY = 1


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded header."""

    kind: Kind
    """Bytes or an array."""
    tag: str
    """The protocol step the message belongs to."""
    payload_len: int
    """Bytes of payload."""
    dtype: str = ""
    """For arrays: numpy dtype string (e.g. '<u8')."""
    shape: tuple[int, ...] = ()
    """For arrays: the shape."""
    inline: bytes | None = None
    """The payload when it travels in the header record."""


def check_dtype(dtype: np.dtype[np.generic]) -> str:
    """The wire name of a numeric dtype.

    Raises:
        LocalProtocolError: the dtype is not plain numeric (object, structured, strings).
    """
    if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None:
        raise LocalProtocolError(f"dtype {dtype} cannot travel over the mesh (numeric only)")
    return dtype.str


def encode_header(
    kind: Kind,
    tag: str,
    payload_len: int,
    *,
    dtype: str = "",
    shape: tuple[int, ...] = (),
    inline: bytes | memoryview | None = None,
) -> bytes:
    """The header record (with the inline payload if given)."""
    raw_tag = tag.encode()
    if not raw_tag or len(raw_tag) > MAX_TAG_BYTES:
        raise LocalProtocolError(f"a tag is 1 to {MAX_TAG_BYTES} bytes of UTF-8")
    flags = FLAG_INLINE if inline is not None else 0
    parts = [
        _FIXED.pack(VERSION, kind, flags, len(raw_tag)),
        raw_tag,
        payload_len.to_bytes(8, "big"),
    ]
    if kind is Kind.ARRAY:
        if len(shape) > MAX_NDIM:
            raise LocalProtocolError("too many dimensions")
        raw_dtype = dtype.encode()
        parts += [bytes([len(raw_dtype)]), raw_dtype, bytes([len(shape)])]
        parts += [d.to_bytes(8, "big") for d in shape]
    if inline is not None:
        parts.append(bytes(inline))
    return b"".join(parts)


def decode_header(record: bytes | memoryview, *, max_payload: int) -> Header:
    """Parse a header record.

    Raises:
        WireError: truncated, trailing bytes, unknown version/kind, bad dtype or sizes.
    """
    view = memoryview(record)
    try:
        version, kind_raw, flags, tag_len = _FIXED.unpack_from(view, 0)
    except struct.error as exc:
        raise WireError("truncated header") from exc
    if version != VERSION:
        raise WireError(f"unknown mesh wire version {version}")
    try:
        kind = Kind(kind_raw)
    except ValueError:
        raise WireError(f"unknown message kind {kind_raw}") from None
    if flags & ~FLAG_INLINE:
        raise WireError("unknown flags")
    pos = _FIXED.size
    if tag_len == 0 or tag_len > MAX_TAG_BYTES or pos + tag_len + 8 > len(view):
        raise WireError("bad tag length")
    try:
        tag = bytes(view[pos : pos + tag_len]).decode()
    except UnicodeDecodeError:
        raise WireError("tag is not UTF-8") from None
    pos += tag_len
    payload_len = int.from_bytes(view[pos : pos + 8], "big")
    pos += 8
    if payload_len > max_payload:
        raise WireError("payload larger than the mesh allows")
    dtype = ""
    shape: tuple[int, ...] = ()
    if kind is Kind.ARRAY:
        if pos >= len(view):
            raise WireError("truncated array header")
        dlen = view[pos]
        pos += 1
        if pos + dlen + 1 > len(view):
            raise WireError("truncated dtype")
        dtype = bytes(view[pos : pos + dlen]).decode("ascii", errors="replace")
        pos += dlen
        ndim = view[pos]
        pos += 1
        if ndim > MAX_NDIM or pos + 8 * ndim > len(view):
            raise WireError("bad shape")
        shape = tuple(
            int.from_bytes(view[pos + 8 * k : pos + 8 * k + 8], "big") for k in range(ndim)
        )
        pos += 8 * ndim
        try:
            parsed = np.dtype(dtype)
            check_dtype(parsed)
        except (TypeError, ValueError, LocalProtocolError):
            raise WireError("dtype not allowed") from None
        if int(np.prod(shape, dtype=object)) * parsed.itemsize != payload_len:
            raise WireError("array size does not match the payload length")
    inline: bytes | None = None
    if flags & FLAG_INLINE:
        if len(view) - pos != payload_len:
            raise WireError("inline payload length mismatch")
        inline = bytes(view[pos:])
    elif pos != len(view):
        raise WireError("trailing bytes after header")
    return Header(kind, tag, payload_len, dtype, shape, inline)
