"""Mesh header codec: round trips, strictness, and hostile bytes only raise WireError."""

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdlink.errors import LocalProtocolError
from qkdlink.mesh._wire import Kind, WireError, check_dtype, decode_header, encode_header


def test_bytes_round_trip_inline_and_not() -> None:
    h = decode_header(encode_header(Kind.BYTES, "t/1", 3, inline=b"abc"), max_payload=10)
    assert (h.kind, h.tag, h.payload_len, h.inline) == (Kind.BYTES, "t/1", 3, b"abc")
    h = decode_header(encode_header(Kind.BYTES, "t/2", 1000), max_payload=1000)
    assert h.inline is None
    assert h.payload_len == 1000


def test_array_round_trip() -> None:
    raw = encode_header(Kind.ARRAY, "x", 48, dtype="<u8", shape=(2, 3))
    h = decode_header(raw, max_payload=100)
    assert h.dtype == "<u8"
    assert h.shape == (2, 3)


@pytest.mark.parametrize(
    "raw",
    [
        encode_header(Kind.ARRAY, "x", 40, dtype="<u8", shape=(2, 3)),  # size mismatch
        encode_header(Kind.ARRAY, "x", 8, dtype="|O", shape=(1,)),  # object dtype
        encode_header(Kind.BYTES, "x", 3, inline=b"abc") + b"!",  # trailing inline byte
        encode_header(Kind.BYTES, "x", 3) + b"!",  # trailing bytes
        b"\x02" + encode_header(Kind.BYTES, "x", 3)[1:],  # version
        encode_header(Kind.BYTES, "x", 3)[:5],  # truncated
        encode_header(Kind.BYTES, "x", 1 << 40),  # over the cap
    ],
)
def test_malformed_headers_are_refused(raw: bytes) -> None:
    with pytest.raises(WireError):
        decode_header(raw, max_payload=1 << 32)


def test_local_checks() -> None:
    with pytest.raises(LocalProtocolError):
        encode_header(Kind.BYTES, "", 0)
    with pytest.raises(LocalProtocolError):
        check_dtype(np.dtype(object))
    assert check_dtype(np.dtype(np.float64)) == "<f8"


@given(st.binary(max_size=200))
def test_hostile_bytes_only_raise_wire_error(data: bytes) -> None:
    with contextlib.suppress(WireError):
        decode_header(data, max_payload=1 << 20)
