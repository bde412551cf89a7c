"""The TenSEAL transfer header: its exact layout and every malformed header refused."""

from __future__ import annotations

import struct

import pytest

from integrations.tenseal._wire import HEADER_SIZE, MAX_FRAGMENT, Header, Kind
from qkdlink.errors import LocalProtocolError, RemoteProtocolError

_LAYOUT = struct.Struct(">4sBBHIQII")  # magic, version, kind, reserved, index, total, size, count


def raw(
    *,
    magic: bytes = b"QKTS",
    version: int = 1,
    kind: int = Kind.CKKS_VECTOR,
    reserved: int = 0,
    index: int = 0,
    total: int = 1000,
    size: int = 300,
    count: int = 4,
) -> bytes:
    return _LAYOUT.pack(magic, version, kind, reserved, index, total, size, count)


def test_layout_is_pinned() -> None:
    header = Header.for_object(Kind.CONTEXT, 7, 1000, 300)
    assert header.fragments == 4
    assert header.encode() == raw(kind=Kind.CONTEXT, index=7)
    assert HEADER_SIZE == 28
    assert Header.decode(header.encode(), 1000) == header
    end = Header.marker(Kind.END, 5)
    assert end.encode() == raw(kind=Kind.END, index=5, total=0, size=0, count=0)
    assert Header.decode(end.encode(), 1) == end


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (raw()[:-1], "28-byte"),  # a stray fragment where a header belongs
        (raw() + b"\0", "28-byte"),
        (raw(magic=b"QKTX"), "magic"),
        (raw(version=2), "magic, version"),
        (raw(reserved=1), "magic, version"),
        (raw(kind=9), "unknown"),
        (raw(kind=Kind.END, total=1, size=1, count=1), "with a body"),
        (raw(kind=Kind.ABORT, count=1, total=0, size=0), "with a body"),
        (raw(total=1001), "limit is 1000"),
        (raw(total=0, count=0), "inconsistent"),
        (raw(size=0), "inconsistent"),
        (raw(size=MAX_FRAGMENT + 1, count=1), "inconsistent"),
        (raw(count=3), "inconsistent"),
        (raw(count=5), "inconsistent"),
    ],
    ids=[
        "short",
        "long",
        "magic",
        "version",
        "reserved",
        "kind",
        "end-with-body",
        "abort-with-body",
        "over-limit",
        "empty",
        "zero-fragment",
        "huge-fragment",
        "too-few-fragments",
        "too-many-fragments",
    ],
)
def test_malformed_headers_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(RemoteProtocolError, match=why):
        Header.decode(data, 1000)


@pytest.mark.parametrize(
    ("total", "size", "index"),
    [(0, 10, 0), (10, 0, 0), (10, MAX_FRAGMENT + 1, 0), (10, 10, 1 << 32)],
)
def test_sender_side_arguments_are_checked(total: int, size: int, index: int) -> None:
    with pytest.raises(LocalProtocolError):
        Header.for_object(Kind.CKKS_VECTOR, index, total, size)
