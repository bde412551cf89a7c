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
from protocols.channel.events import MessageReceived
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
