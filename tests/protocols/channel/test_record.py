"""Record layer: round trips, boundaries, arrays, and every kind of hostile or broken input."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.channel import (
    RecordConfig,
    RecordLayer,
    RecordState,
    RecordType,
    initial_epoch_keys,
)
from protocols.channel._frames import AAD, HEADER, HEADER_SIZE, TAG_SIZE
from protocols.channel.events import (
    ArrayReceived,
    CloseReceived,
    MessageReceived,
    OtpKeysRequested,
)
from protocols.errors import AuthenticationError, LocalProtocolError, RemoteProtocolError
from tests.protocols.channel._pair import drain, make_pair, transfer

SMALL = RecordConfig(max_record_payload=1024, max_message_size=1 << 20)


def records(wire: bytes | bytearray) -> list[bytes]:
    """Split a wire stream into whole records."""
    out, pos = [], 0
    while pos < len(wire):
        _, _, _, length = HEADER.unpack_from(wire, pos)
        out.append(bytes(wire[pos : pos + HEADER_SIZE + length]))
        pos += HEADER_SIZE + length
    return out


def messages(layer: RecordLayer) -> list[bytes]:
    return [e.data for e in drain(layer) if isinstance(e, MessageReceived)]


@pytest.mark.parametrize("cipher", ["AESGCM", "ChaChaPoly"])
def test_message_boundaries_are_preserved(cipher: str) -> None:
    a, b = make_pair(RecordConfig(cipher=cipher, max_record_payload=1024))  # type: ignore[arg-type]
    sent = [b"", b"x", bytes(range(256)) * 4, b"y" * 1025, b"z" * 5000, b"end"]
    for m in sent:
        a.send_message(m)
    transfer(a, b)
    assert messages(b) == sent
    assert b.stats.messages_received == len(sent)
    assert a.stats.bytes_sent == b.stats.bytes_received == sum(map(len, sent))


def test_byte_at_a_time_feeding_gives_the_same_messages() -> None:
    a, b = make_pair(SMALL)
    sent = [b"first", b"q" * 3000, b"last"]
    for m in sent:
        a.send_message(m)
    a.send_array(np.arange(700, dtype=np.int16))
    wire = bytes(a.data_to_send(1 << 30))
    for i in range(len(wire)):
        b.receive_data(wire[i : i + 1], 0.0)
    events = drain(b)
    assert [e.data for e in events if isinstance(e, MessageReceived)] == sent
    arrays = [e.array for e in events if isinstance(e, ArrayReceived)]
    assert len(arrays) == 1
    np.testing.assert_array_equal(arrays[0], np.arange(700, dtype=np.int16))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(10_000, dtype=np.float64).reshape(100, 100),
        np.zeros((0, 3), dtype=np.int32),
        np.array(3.5),
        np.ones((7, 5, 3), dtype=np.complex128),
        np.asfortranarray(np.arange(12, dtype=">u4").reshape(3, 4)),
        np.array([True, False, True]),
    ],
)
def test_arrays_round_trip_with_dtype_and_shape(array: np.ndarray) -> None:
    a, b = make_pair(SMALL)
    a.send_array(array)
    transfer(a, b)
    (event,) = drain(b)
    assert isinstance(event, ArrayReceived)
    assert event.array.dtype == array.dtype
    assert event.array.shape == array.shape
    np.testing.assert_array_equal(event.array, array)


def test_object_arrays_are_refused_locally() -> None:
    a, _ = make_pair()
    with pytest.raises(LocalProtocolError):
        a.send_array(np.array([object()]))


def test_output_is_bounded_by_the_limit() -> None:
    a, b = make_pair(SMALL)
    a.send_message(b"m" * 100_000)
    chunk = a.data_to_send(4096)
    assert len(chunk) <= 4096 + HEADER_SIZE + 1024 + TAG_SIZE
    b.receive_data(chunk, 0.0)
    transfer(a, b)
    assert messages(b) == [b"m" * 100_000]


def test_close_then_eof_is_orderly_and_eof_without_close_is_truncation() -> None:
    a, b = make_pair()
    a.send_message(b"bye")
    a.close()
    transfer(a, b)
    assert [type(e) for e in drain(b)] == [MessageReceived, CloseReceived]
    b.receive_eof()
    assert b.state is RecordState.REMOTE_CLOSED
    with pytest.raises(LocalProtocolError):
        a.send_message(b"more")

    c, d = make_pair()
    c.send_message(b"cut")
    transfer(c, d)
    with pytest.raises(RemoteProtocolError):
        d.receive_eof()
    assert d.state is RecordState.ERROR


def test_truncated_record_then_eof_is_an_error_and_delivers_nothing() -> None:
    a, b = make_pair()
    a.send_message(b"secret")
    wire = a.data_to_send()
    b.receive_data(wire[:-1], 0.0)
    assert drain(b) == []
    with pytest.raises(RemoteProtocolError):
        b.receive_eof()


@pytest.mark.parametrize("where", ["header-type", "header-counter", "ciphertext", "tag"])
def test_tampering_anywhere_is_caught_and_nothing_is_delivered(where: str) -> None:
    a, b = make_pair()
    a.send_message(b"patient record")
    wire = bytearray(a.data_to_send())
    index = {"header-type": 0, "header-counter": 12, "ciphertext": HEADER_SIZE, "tag": -1}[where]
    wire[index] ^= 0x01
    with pytest.raises((AuthenticationError, RemoteProtocolError)):
        b.receive_data(wire, 0.0)
    assert drain(b) == []
    assert b.state is RecordState.ERROR
    with pytest.raises(LocalProtocolError):
        b.receive_data(b"", 0.0)


def test_replayed_record_is_refused_in_strict_mode() -> None:
    a, b = make_pair()
    a.send_message(b"pay 100")
    wire = bytes(a.data_to_send())
    b.receive_data(wire, 0.0)
    assert messages(b) == [b"pay 100"]
    with pytest.raises(RemoteProtocolError):
        b.receive_data(wire, 0.0)
    assert b.state is RecordState.ERROR
    assert drain(b) == []


def test_reordered_records_are_refused_in_strict_mode() -> None:
    a, b = make_pair()
    a.send_message(b"one")
    a.send_message(b"two")
    first, second = records(a.data_to_send())
    with pytest.raises(RemoteProtocolError):
        b.receive_data(second + first, 0.0)
    assert drain(b) == []


def test_dropped_record_is_detected_in_strict_mode() -> None:
    a, b = make_pair()
    for m in (b"one", b"two", b"three"):
        a.send_message(m)
    one, _, three = records(a.data_to_send())
    b.receive_data(one, 0.0)
    with pytest.raises(RemoteProtocolError):
        b.receive_data(three, 0.0)
    assert messages(b) == [b"one"]


def test_window_mode_drops_duplicates_and_accepts_reordering() -> None:
    config = RecordConfig(replay_window=64)
    a, b = make_pair(config)
    for i in range(5):
        a.send_message(f"m{i}".encode())
    recs = records(a.data_to_send())
    for rec in [recs[1], recs[0], recs[1], recs[4], recs[0], recs[2], recs[3], recs[3]]:
        b.receive_data(rec, 0.0)
    assert messages(b) == [b"m1", b"m0", b"m4", b"m2", b"m3"]
    assert b.stats.records_dropped == 3
    assert b.state is RecordState.OPEN


def test_fragments_moved_within_a_message_fail_authentication_in_window_mode() -> None:
    a, b = make_pair(RecordConfig(replay_window=64, max_record_payload=1024))
    a.send_message(bytes(range(256)) * 12)
    recs = records(a.data_to_send())
    assert len(recs) == 4  # start + 3 fragments
    with pytest.raises(AuthenticationError):
        b.receive_data(recs[0] + recs[2] + recs[1], 0.0)
    assert drain(b) == []


def test_oversize_length_prefix_is_refused_from_the_header_alone() -> None:
    _, b = make_pair()
    header = HEADER.pack(RecordType.MESSAGE, 0, 0, 0xFFFF_FFFF)
    with pytest.raises(RemoteProtocolError):
        b.receive_data(header, 0.0)
    assert b.state is RecordState.ERROR


def test_length_shorter_than_a_tag_is_refused() -> None:
    _, b = make_pair()
    with pytest.raises(RemoteProtocolError):
        b.receive_data(HEADER.pack(RecordType.MESSAGE, 0, 0, 3) + b"abc", 0.0)


def test_garbage_from_a_non_qkdlink_peer() -> None:
    _, b = make_pair()
    with pytest.raises((RemoteProtocolError, AuthenticationError)):
        b.receive_data(b"GET / HTTP/1.1\r\nHost: hospital-b\r\n\r\n", 0.0)
    assert drain(b) == []


def test_unknown_record_type_and_epoch_are_refused() -> None:
    _, b = make_pair()
    with pytest.raises(RemoteProtocolError):
        b.receive_data(HEADER.pack(99, 0, 0, 16) + bytes(16), 0.0)
    _, c = make_pair()
    with pytest.raises(RemoteProtocolError):
        c.receive_data(HEADER.pack(RecordType.MESSAGE, 7, 0, 16) + bytes(16), 0.0)


def test_record_from_another_session_fails_authentication() -> None:
    a, _ = make_pair()
    _, d = make_pair()
    a.send_message(b"for b only")
    with pytest.raises(AuthenticationError):
        d.receive_data(a.data_to_send(), 0.0)


def test_data_after_close_is_refused() -> None:
    a, b = make_pair()
    a.close()
    b.receive_data(a.data_to_send(), 0.0)
    with pytest.raises(RemoteProtocolError):
        b.receive_data(HEADER.pack(RecordType.MESSAGE, 0, 1, 16) + bytes(16), 0.0)
    assert drain(b) == [CloseReceived()]


def test_message_caps_are_enforced_on_both_sides() -> None:
    a, _ = make_pair(SMALL)
    with pytest.raises(LocalProtocolError):
        a.send_message(bytes((1 << 20) + 1))
    big = RecordConfig(max_record_payload=1024, max_message_size=1 << 22)
    keys = (b"h" * 32, b"i" * 32, b"r" * 32)
    sender = RecordLayer(big, initiator=True, keys=initial_epoch_keys(*keys), now=0.0)
    receiver = RecordLayer(SMALL, initiator=False, keys=initial_epoch_keys(*keys), now=0.0)
    sender.send_message(bytes(2 << 20))
    with pytest.raises(RemoteProtocolError):
        transfer(sender, receiver)
    assert drain(receiver) == []


def test_array_header_with_a_hostile_dtype_is_refused() -> None:
    keys = initial_epoch_keys(b"h" * 32, b"i" * 32, b"r" * 32)
    receiver = RecordLayer(RecordConfig(), initiator=False, keys=keys, now=0.0)
    aead = AESGCM(bytes(keys.initiator_to_responder))
    payload = bytes([3]) + b"|O8" + bytes([1]) + struct.pack("!Q", 1)
    aad = AAD.pack(RecordType.ARRAY_START, 0, 0, len(payload) + 16, 0)
    ct = aead.encrypt(bytes(12), payload, aad)
    with pytest.raises(RemoteProtocolError):
        receiver.receive_data(aad[:HEADER_SIZE] + ct, 0.0)
    assert drain(receiver) == []


def _confirming_pair() -> tuple[RecordLayer, RecordLayer]:
    keys = (b"h" * 32, b"i" * 32, b"r" * 32)
    a = RecordLayer(
        RecordConfig(), initiator=True, keys=initial_epoch_keys(*keys), now=0.0,
        key_confirmation=True,
    )  # fmt: skip
    b = RecordLayer(
        RecordConfig(), initiator=False, keys=initial_epoch_keys(*keys), now=0.0,
        key_confirmation=True,
    )  # fmt: skip
    return a, b


def test_key_confirmation_is_the_initiators_first_record() -> None:
    a, b = _confirming_pair()
    assert a.peer_confirmed
    assert not b.peer_confirmed
    a.send_message(b"after confirm")
    transfer(a, b)
    assert b.peer_confirmed
    assert messages(b) == [b"after confirm"]
    b.send_message(b"reply")  # the responder sends no CONFIRM
    transfer(b, a)
    assert messages(a) == [b"reply"]


def test_responder_refuses_data_before_key_confirmation() -> None:
    keys = (b"h" * 32, b"i" * 32, b"r" * 32)
    skipper = RecordLayer(RecordConfig(), initiator=True, keys=initial_epoch_keys(*keys), now=0.0)
    _, b = _confirming_pair()
    skipper.send_message(b"data without confirmation")
    with pytest.raises(RemoteProtocolError, match="CONFIRM"):
        b.receive_data(skipper.data_to_send(), 0.0)
    assert drain(b) == []
    assert b.state is RecordState.ERROR


def _otp_pair() -> tuple[RecordLayer, RecordLayer, list[bytes]]:
    """A pair and the pad materials of one OTP message `a` has queued (key IDs k1, k2)."""
    a, b = make_pair(SMALL)
    pads = [os.urandom(40), os.urandom(40)]
    a.send_otp(b"otp secret", [(b"k1", pads[0]), (b"k2", pads[1])])
    return a, b, pads


def test_input_after_an_otp_message_in_the_same_call_is_kept_whatever_its_size() -> None:
    a, b, pads = _otp_pair()
    sent = [bytes([i]) * 1000 for i in range(50)] + [b"m" * 5000]  # far more than one record
    for m in sent:
        a.send_message(m)
    b.receive_data(a.data_to_send(1 << 20), 0.0)  # one transport read: OTP record, then the rest
    assert drain(b) == [OtpKeysRequested((b"k1", b"k2"))]
    assert b.awaiting_keys
    b.provide_otp_keys(pads, 0.0)
    assert messages(b) == [b"otp secret", *sent]  # in order, nothing held back any more


def test_input_fed_while_otp_keys_are_awaited_is_bounded_to_one_record() -> None:
    a, b, pads = _otp_pair()
    transfer(a, b)
    assert b.awaiting_keys
    drain(b)
    # Genuine records up to one maximal record are held (a read already in flight) ...
    a.send_message(b"x" * SMALL.max_record_payload)
    later = a.data_to_send()
    assert len(later) == HEADER_SIZE + SMALL.max_record_payload + TAG_SIZE
    b.receive_data(later[:100], 0.0)
    b.receive_data(later[100:], 0.0)
    b.provide_otp_keys(pads, 0.0)
    assert messages(b) == [b"otp secret", b"x" * SMALL.max_record_payload]
    # ... but a caller that keeps feeding is refused, not buffered without bound.
    a.send_otp(b"second", [(b"k3", os.urandom(40))])
    transfer(a, b)
    assert b.awaiting_keys
    with pytest.raises(RemoteProtocolError, match="OTP keys"):
        b.receive_data(bytes(50 << 20), 0.0)
    assert b.state is RecordState.ERROR
    assert [e for e in drain(b) if isinstance(e, MessageReceived)] == []


def test_more_than_one_record_in_small_pieces_while_otp_keys_are_awaited_is_refused() -> None:
    a, b, _ = _otp_pair()
    transfer(a, b)
    limit = HEADER_SIZE + SMALL.max_record_payload + TAG_SIZE
    for _ in range(limit // 1000):
        b.receive_data(bytes(1000), 0.0)
    with pytest.raises(RemoteProtocolError):
        b.receive_data(bytes(1000), 0.0)


def test_oversize_length_in_a_header_split_across_reads_is_refused_before_buffering() -> None:
    _, b = make_pair(SMALL)
    header = HEADER.pack(RecordType.MESSAGE, 0, 0, 0xFFFF_FFFF)
    b.receive_data(header[:1], 0.0)
    with pytest.raises(RemoteProtocolError, match="length"):
        b.receive_data(header[1:] + bytes(1 << 20), 0.0)
    assert b.state is RecordState.ERROR
    _, c = make_pair(SMALL)
    c.receive_data(header[:5], 0.0)
    with pytest.raises(RemoteProtocolError, match="length"):
        c.receive_data(header[5:], 0.0)  # refused from the completed header alone
