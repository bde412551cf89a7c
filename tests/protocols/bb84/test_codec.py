"""Wire format: every message round-trips; truncation, trailing bytes, caps and hostile bytes
only ever raise DecodeError."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.bb84._codec import (
    Abort,
    Confirm,
    DecodeError,
    DisclosedBits,
    Estimate,
    Message,
    MessageType,
    ParityQuery,
    ParityReply,
    PrivacyAmplification,
    Sift,
    SiftReply,
    Verify,
    decode_payload,
    encode_payload,
    message_type,
)

CAP = 1 << 20
BITS = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=np.uint8)

SAMPLES: list[Message] = [
    Sift(np.array([3, 4, 90, 1 << 40], dtype=np.int64), np.array([0, 1, 1, 0], dtype=np.uint8)),
    Sift(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)),
    SiftReply(BITS),
    DisclosedBits(BITS[:3]),
    Estimate(0.02, 0.021, (0.02, 0.03, 0.5), 10.5, 1234.0, 0.07, b"s" * 16, BITS),
    ParityQuery(np.array([0, 3], dtype=np.uint8), np.array([5, 1 << 30], dtype=np.uint32)),
    ParityReply(BITS[:9]),
    Verify(17, b"\x01\x02\x03", b"t" * 7),
    PrivacyAmplification(1000, b"\xff" * 12),
    Abort("QBER too high: é"),
    Confirm(),
]


def same(a: Message, b: Message) -> bool:
    if type(a) is not type(b):
        return False
    for name in a.__dataclass_fields__:  # type: ignore[union-attr]
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            if not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    payload = encode_payload(message)
    assert same(decode_payload(message_type(message), payload, CAP), message)


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_truncation_and_trailing_bytes(message: Message) -> None:
    payload = encode_payload(message)
    kind = message_type(message)
    for cut in range(len(payload)):
        with pytest.raises(DecodeError):
            decode_payload(kind, payload[:cut], CAP)
    with pytest.raises(DecodeError):
        decode_payload(kind, payload + b"\x00", CAP)


def test_caps_and_invalid_fields() -> None:
    big = encode_payload(DisclosedBits(np.zeros(100, dtype=np.uint8)))
    with pytest.raises(DecodeError, match="cap"):
        decode_payload(MessageType.TEST_BITS, big, 99)
    with pytest.raises(DecodeError, match="unknown"):
        decode_payload(200, b"", CAP)
    # Padding bits must be zero (one encoding per value).
    with pytest.raises(DecodeError, match="padding"):
        decode_payload(MessageType.TEST_BITS, b"\x00\x00\x00\x03\xff", CAP)
    # Pulse indices must increase strictly.
    bad_sift = b"\x00\x00\x00\x02" + (5).to_bytes(8, "big") + b"\x04\x00\x00\x00\x01" + b"\x00" * 4
    with pytest.raises(DecodeError, match="increasing"):
        decode_payload(MessageType.SIFT, bad_sift + b"\x00\x00\x00\x02\x00", CAP)
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_payload(MessageType.ABORT, b"\x00\x00\x00\x01\xff", CAP)
    # Pulse indices that do not fit below 2^62 (first index, or a u8 gap >= 2^63 that would wrap
    # negative in int64) are out of range, never a raw OverflowError.
    for count, first, width, gaps in (
        (1, 2**64 - 1, 4, b""),
        (2, 2**63, 4, (1).to_bytes(4, "big")),
        (2, 5, 8, (2**63).to_bytes(8, "big")),
    ):
        sift = (
            count.to_bytes(4, "big")
            + first.to_bytes(8, "big")
            + bytes([width])
            + (len(gaps) // width).to_bytes(4, "big")
            + gaps
            + count.to_bytes(4, "big")
            + b"\x00"
        )
        with pytest.raises(DecodeError, match="out of range"):
            decode_payload(MessageType.SIFT, sift, CAP)
    seedless = encode_payload(Estimate(0.02, 0.0, (), 0.0, 0.0, 0.0, b"s" * 15, BITS))
    with pytest.raises(DecodeError, match="seed"):
        decode_payload(MessageType.ESTIMATE, seedless, CAP)
    wild = encode_payload(Estimate(0.9, 0.0, (), 0.0, 0.0, 0.0, b"s" * 16, BITS))
    with pytest.raises(DecodeError, match="qber"):
        decode_payload(MessageType.ESTIMATE, wild, CAP)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=200))
def test_hostile_payloads_only_raise_decode_error(kind: int, payload: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_payload(kind, payload, 4096)


def test_sift_gap_widths_and_the_running_sum_bound() -> None:
    bases = np.zeros(4, dtype=np.uint8)
    for index, width in (([3, 4, 2**32 + 3, 2**32 + 9], 4), ([3, 4, 2**32 + 4, 2**32 + 9], 8)):
        message = Sift(np.array(index, dtype=np.int64), bases)
        payload = encode_payload(message)
        assert payload[12] == width  # count (4) and first index (8), then the gap width
        assert same(decode_payload(MessageType.SIFT, payload, CAP), message)
    # First index below 2^62, but a u4 gap takes the last one over: out of range.
    near = Sift(np.array([2**62 - 2, 2**62 + 5], dtype=np.int64), bases[:2])
    with pytest.raises(DecodeError, match="out of range"):
        decode_payload(MessageType.SIFT, encode_payload(near), CAP)
