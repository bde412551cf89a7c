"""Wire format of a TenSEAL transfer: one fixed header per object, then the object's fragments.

Header (28 bytes, big-endian): magic ``QKTS``, version 1, kind, reserved 0 (u16), index (u32),
total length (u64), fragment size (u32), fragment count (u32). Every fragment but the last is
exactly ``fragment size`` bytes; the count must be ``ceil(total / fragment size)``, so the
receiver knows every fragment's length in advance. A stream of ciphertexts ends with an END
header whose index is the number of ciphertexts sent, or an ABORT header if the sender failed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from qkdlink.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DEFAULT_FRAGMENT",
    "HEADER_SIZE",
    "MAX_CIPHERTEXT_SIZE",
    "MAX_CONTEXT_SIZE",
    "MAX_FRAGMENT",
    "Header",
    "Kind",
    "SenderAbortedError",
    "check_fragment_size",
]

_MAGIC = b"QKTS"
_VERSION = 1
_HEADER = struct.Struct(">4sBBHIQII")
HEADER_SIZE = _HEADER.size

DEFAULT_FRAGMENT = 1 << 20
"""Bytes per fragment unless the sender asks otherwise."""
MAX_FRAGMENT = 64 << 20
"""Largest fragment on the wire: a qkdlink `Channel`'s default `max_message_size`."""
MAX_CONTEXT_SIZE = 1 << 30
"""Default cap on an announced context (an N = 8192 context with Galois keys is ~35 MB)."""
MAX_CIPHERTEXT_SIZE = 64 << 20
"""Default cap on an announced ciphertext (an N = 8192 CKKS vector is ~330 kB)."""


class SenderAbortedError(RemoteProtocolError):
    """The sender failed mid-stream (its iterator or TenSEAL raised) and said so on the wire."""


def check_fragment_size(fragment_size: int) -> None:
    """Raises LocalProtocolError unless 1 <= `fragment_size` <= MAX_FRAGMENT."""
    if not 0 < fragment_size <= MAX_FRAGMENT:
        raise LocalProtocolError(f"fragment size must be in 1..{MAX_FRAGMENT}")


def _check_index(index: int) -> None:
    if not 0 <= index <= 0xFFFFFFFF:
        raise LocalProtocolError("a stream carries at most 2**32 - 1 ciphertexts")


class Kind(IntEnum):
    """What a header announces."""

    CONTEXT = 1
    CKKS_VECTOR = 2
    END = 3
    """A stream of ciphertexts is complete; the index is how many were sent."""
    ABORT = 4
    """The sender gave up mid-stream."""


@dataclass(frozen=True, slots=True)
class Header:
    """One object's header: what it is, where it sits in its stream, how it is fragmented."""

    kind: Kind
    index: int
    total: int
    fragment_size: int
    fragments: int

    @classmethod
    def for_object(cls, kind: Kind, index: int, total: int, fragment_size: int) -> Header:
        """The header of a `total`-byte object cut into `fragment_size`-byte fragments.

        Raises:
            LocalProtocolError: empty object, or a fragment size outside 1..MAX_FRAGMENT.
        """
        check_fragment_size(fragment_size)
        if total <= 0:
            raise LocalProtocolError("TenSEAL serialized an empty object")
        _check_index(index)
        return cls(kind, index, total, fragment_size, -(-total // fragment_size))

    @classmethod
    def marker(cls, kind: Kind, index: int) -> Header:
        """An END or ABORT header (no fragments follow)."""
        _check_index(index)
        return cls(kind, index, 0, 0, 0)

    def encode(self) -> bytes:
        sizes = (self.total, self.fragment_size, self.fragments)
        return _HEADER.pack(_MAGIC, _VERSION, self.kind, 0, self.index, *sizes)

    @classmethod
    def decode(cls, data: bytes, max_size: int) -> Header:
        """Parse and check a header; data kinds must announce at most `max_size` bytes.

        Raises:
            RemoteProtocolError: not a header (a stray fragment, say), an unknown version or
                kind, an inconsistent fragment count, or more than `max_size` bytes announced.
        """
        if len(data) != HEADER_SIZE:
            raise RemoteProtocolError(
                f"expected a {HEADER_SIZE}-byte TenSEAL transfer header, got {len(data)} bytes"
            )
        magic, version, kind, reserved, index, total, size, count = _HEADER.unpack(data)
        if magic != _MAGIC or version != _VERSION or reserved != 0:
            raise RemoteProtocolError("not a TenSEAL transfer header (magic, version)")
        try:
            parsed = Kind(kind)
        except ValueError:
            raise RemoteProtocolError(f"unknown TenSEAL transfer kind {kind}") from None
        if parsed in (Kind.END, Kind.ABORT):
            if total or size or count:
                raise RemoteProtocolError(f"a TenSEAL {parsed.name} header with a body")
            return cls.marker(parsed, index)
        if total > max_size:
            raise RemoteProtocolError(
                f"the peer announces a {total}-byte TenSEAL object; the limit is {max_size}"
            )
        if total == 0 or not 0 < size <= MAX_FRAGMENT or count != -(-total // size):
            raise RemoteProtocolError("TenSEAL transfer header with inconsistent sizes")
        return cls(parsed, index, total, size, count)
