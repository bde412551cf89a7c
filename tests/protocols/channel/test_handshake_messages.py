"""The handshake wire format: headers, exact lengths per mode, TAI64N timestamps."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.channel import HandshakeMode
from protocols.channel._handshake_messages import (
    INITIATION_HEADER_LEN,
    HandshakeFormatError,
    Initiation,
    decode_initiation,
    decode_initiation_payload,
    decode_response,
    decode_response_payload,
    decode_tai64n,
    encode_initiation,
    encode_response,
    encode_tai64n,
)

PLAIN, HYBRID = HandshakeMode.QKD_X25519, HandshakeMode.QKD_X25519_MLKEM
KEY_ID = uuid.UUID("4a5c6d7e-0000-4000-8000-0123456789ab")


def test_initiation_round_trip_and_layout() -> None:
    noise = bytes(32 + 48 + 12 + 16)
    data = encode_initiation(Initiation(PLAIN, KEY_ID, noise))
    assert data[:3] == b"\x01\x01\x01"
    assert data[3:INITIATION_HEADER_LEN] == KEY_ID.bytes
    assert decode_initiation(data) == Initiation(PLAIN, KEY_ID, noise)


@pytest.mark.parametrize(
    ("header", "problem"),
    [(b"\x02\x01\x01", "not a qkdlink"), (b"\x01\x02\x01", "version"), (b"\x01\x01\x07", "mode")],
)
def test_initiation_header_errors(header: bytes, problem: str) -> None:
    with pytest.raises(HandshakeFormatError, match=problem):
        decode_initiation(header + KEY_ID.bytes + bytes(108))


def test_response_length_depends_on_the_mode() -> None:
    plain = encode_response(bytes(32 + 16))
    assert decode_response(plain, PLAIN) == bytes(48)
    with pytest.raises(HandshakeFormatError):
        decode_response(plain, HYBRID)
    with pytest.raises(HandshakeFormatError):
        decode_response(b"\x01" + plain[1:], PLAIN)


def test_payload_lengths_are_exact() -> None:
    stamp = encode_tai64n(1000.5)
    assert decode_initiation_payload(stamp, PLAIN) == (1000.5, None)
    assert decode_initiation_payload(stamp + bytes(1184), HYBRID) == (1000.5, bytes(1184))
    for bad, mode in ((stamp + b"x", PLAIN), (stamp, HYBRID), (stamp[:11], PLAIN)):
        with pytest.raises(HandshakeFormatError):
            decode_initiation_payload(bad, mode)
    assert decode_response_payload(b"", PLAIN) is None
    assert decode_response_payload(bytes(1088), HYBRID) == bytes(1088)
    with pytest.raises(HandshakeFormatError):
        decode_response_payload(bytes(1087), HYBRID)


def test_tai64n_encoding_of_the_epoch_matches_the_libtai_label() -> None:
    # 1970-01-01 00:00:10 TAI = label 2**62 + 10 (cr.yp.to/libtai/tai64.html, as WireGuard).
    assert encode_tai64n(0.0) == bytes.fromhex("400000000000000a") + bytes(4)
    assert encode_tai64n(1.000000001)[8:] == (1).to_bytes(4, "big")


@given(st.floats(min_value=0, max_value=2**34, allow_nan=False))
def test_tai64n_round_trip_within_a_nanosecond(now: float) -> None:
    assert abs(decode_tai64n(encode_tai64n(now)) - now) < 1e-6


def test_tai64n_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        encode_tai64n(float("inf"))
    # The encoder refuses exactly what the decoder would (no OverflowError for huge values).
    for now in (2.0**40, 1e300):
        with pytest.raises(ValueError, match="finite"):
            encode_tai64n(now)
    latest = encode_tai64n(2.0**40 - 1)
    assert decode_tai64n(latest) == 2.0**40 - 1
    with pytest.raises(HandshakeFormatError):
        decode_tai64n(bytes(12))  # label before 1970
    with pytest.raises(HandshakeFormatError):
        decode_tai64n(encode_tai64n(5.0)[:8] + (10**9).to_bytes(4, "big"))
