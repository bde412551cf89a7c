"""Hostile input to the record parser only ever raises the remote or authentication error."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.channel import RecordConfig, RecordState, RecordType
from protocols.channel._frames import (
    HEADER,
    FrameError,
    decode_array_header,
    decode_key_id,
    decode_otp_payload,
)
from protocols.channel.events import ArrayReceived, MessageReceived, OtpKeysRequested
from protocols.errors import AuthenticationError, RemoteProtocolError
from tests.protocols.channel._pair import drain, make_pair

HOSTILE = (RemoteProtocolError, AuthenticationError)


def _feed(chunks: list[bytes]) -> None:
    _, b = make_pair(RecordConfig(max_record_payload=1024))
    try:
        for chunk in chunks:
            b.receive_data(chunk, 0.0)
        b.receive_eof()
    except HOSTILE:
        assert b.state is RecordState.ERROR
    # Nothing the genuine peer did not send can come out (it sent nothing).
    assert not [e for e in drain(b) if isinstance(e, MessageReceived)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_random_bytes(chunks: list[bytes]) -> None:
    _feed(chunks)


headers = st.builds(
    HEADER.pack,
    st.sampled_from([*list(RecordType), 0, 9, 255]),
    st.sampled_from([0, 1, 2**32 - 1]),
    st.sampled_from([0, 1, 2**64 - 1]),
    st.sampled_from([0, 15, 16, 17, 1040, 1041, 2**32 - 1]),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(headers, st.binary(max_size=64)), max_size=4))
def test_plausible_headers_with_junk_bodies(parts: list[tuple[bytes, bytes]]) -> None:
    _feed([h + body for h, body in parts])


@settings(max_examples=200)
@given(st.data())
def test_mutated_genuine_stream(data: st.DataObject) -> None:
    a, b = make_pair(RecordConfig(max_record_payload=1024))
    sent = [b"alpha", b"b" * 3000]
    for m in sent:
        a.send_message(m)
    a.send_array(np.arange(300, dtype=np.float32))
    wire = bytearray(a.data_to_send(1 << 20))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] ^= data.draw(st.integers(1, 255))
    try:
        b.receive_data(wire, 0.0)
    except HOSTILE:
        assert b.state is RecordState.ERROR
    delivered = [e.data for e in drain(b) if isinstance(e, MessageReceived)]
    assert delivered == sent[: len(delivered)]


@given(st.binary(max_size=300))
def test_payload_decoders_raise_only_frame_error(payload: bytes) -> None:
    for decode in (decode_array_header, decode_key_id, decode_otp_payload):
        with contextlib.suppress(FrameError):
            decode(payload)


def test_decoders_reject_trailing_bytes() -> None:
    with pytest.raises(FrameError):
        decode_key_id(b"\x02ab!")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_split_of_a_genuine_stream_gives_the_same_events(data: st.DataObject) -> None:
    """Records cut at arbitrary points (and an OTP message holding input back) change nothing."""
    import os

    a, b = make_pair(RecordConfig(max_record_payload=1024))
    pad_ids = (b"k1", b"k2")
    pads = [os.urandom(40), os.urandom(40)]
    a.send_message(b"first")
    a.send_message(b"f" * 2500)
    a.send_otp(b"otp secret", list(zip(pad_ids, pads, strict=True)))
    a.send_array(np.arange(700, dtype=np.int32))
    a.send_message(b"last")
    wire = bytes(a.data_to_send(1 << 20))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(wire) - 1), max_size=12)))
    chunks = [wire[i:j] for i, j in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    out: list[object] = []
    for chunk in chunks:
        b.receive_data(chunk, 0.0)
        while (event := b.next_event()) is not None:
            if isinstance(event, OtpKeysRequested):
                assert event.key_ids == pad_ids
                b.provide_otp_keys(pads, 0.0)
            else:
                out.append(event)
    messages = [e.data for e in out if isinstance(e, MessageReceived)]
    assert messages == [b"first", b"f" * 2500, b"otp secret", b"last"]
    arrays = [e.array for e in out if isinstance(e, ArrayReceived)]
    assert len(arrays) == 1
    np.testing.assert_array_equal(arrays[0], np.arange(700, dtype=np.int32))
