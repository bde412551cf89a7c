"""Record wire format: header layout and the payload codecs (symmetric, strict)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.channel import RecordType
from protocols.channel._frames import (
    AAD,
    HEADER,
    HEADER_SIZE,
    ArrayHeader,
    FrameError,
    OtpPayload,
    decode_array_header,
    decode_key_id,
    decode_message_start,
    decode_otp_payload,
    encode_array_header,
    encode_key_id,
    encode_message_start,
    encode_otp_payload,
)


def test_header_layout_is_17_bytes_network_order() -> None:
    assert HEADER_SIZE == 17
    raw = HEADER.pack(RecordType.FRAGMENT, 0x01020304, 0x05060708090A0B0C, 0x0D0E0F10)
    assert raw.hex() == "040102030405060708090a0b0c0d0e0f10"
    assert AAD.pack(1, 0, 0, 16, 7)[:HEADER_SIZE] == HEADER.pack(1, 0, 0, 16)
    assert AAD.size == HEADER_SIZE + 8


def test_record_type_codes_are_stable() -> None:
    assert {t.name: t.value for t in RecordType} == {
        "MESSAGE": 1,
        "MESSAGE_START": 2,
        "ARRAY_START": 3,
        "FRAGMENT": 4,
        "OTP_MESSAGE": 5,
        "REKEY": 6,
        "REKEY_ACK": 7,
        "CLOSE": 8,
        "CONFIRM": 9,
    }


@given(
    st.sampled_from(["<f8", "<i4", "|u1", "|b1", ">c16", "<f2"]),
    st.lists(st.integers(0, 2**40), max_size=6),
)
def test_array_header_round_trip(dtype: str, shape: list[int]) -> None:
    header = ArrayHeader(dtype, tuple(shape))
    assert decode_array_header(encode_array_header(header)) == header


@pytest.mark.parametrize("dtype", ["|O8", "<U4", "|V8", "<M8", "f8", "<f0"])
def test_array_header_refuses_non_numeric_dtypes(dtype: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        encode_array_header(ArrayHeader(dtype, (1,)))
    raw = bytes([len(dtype)]) + dtype.encode() + bytes([0])
    with pytest.raises(FrameError):
        decode_array_header(raw)


def test_codecs_reject_truncation_and_trailing_bytes() -> None:
    assert decode_message_start(encode_message_start(12345)) == 12345
    with pytest.raises(FrameError):
        decode_message_start(encode_message_start(1) + b"x")
    assert decode_key_id(encode_key_id(b"id")) == b"id"
    with pytest.raises(FrameError):
        decode_key_id(encode_key_id(b"id")[:-1])
    with pytest.raises(ValueError, match=r"1\.\.255"):
        encode_key_id(b"")
    payload = OtpPayload((b"k1", b"key-2"), bytes(20))
    assert decode_otp_payload(encode_otp_payload(payload)) == payload
    with pytest.raises(FrameError):
        decode_otp_payload(encode_otp_payload(payload)[:-5])  # tag cut short
    with pytest.raises(FrameError):
        decode_array_header(encode_array_header(ArrayHeader("<f8", (2, 3)))[:-1])
