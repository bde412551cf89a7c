"""Hostile peers and transports: forged, altered, truncated, replayed and reflected messages,
arbitrary chunking, fuzzing, and an error injected after error correction."""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.bb84 import AlicePostProcessing, BobPostProcessing, State, run_in_memory
from protocols.bb84._cascade import CascadeBob
from protocols.bb84._codec import MessageType, ParityQuery, encode_payload
from protocols.errors import (
    AuthenticationError,
    LocalProtocolError,
    PostProcessingAbortedError,
    RemoteProtocolError,
)
from tests.protocols.bb84.conftest import endpoints, lab_block, lab_config

Tamper = Callable[[str, int, bytes], bytes]


def frames(data: bytes) -> list[bytes]:
    """Split a byte stream into frames (header, payload, tag if the type has one)."""
    out = []
    while data:
        kind, length = struct.unpack_from(">BI", data)
        tag = 0 if kind in (MessageType.PARITY_QUERY, MessageType.PARITY_REPLY) else 16
        out.append(data[: 5 + length + tag])
        data = data[5 + length + tag :]
    return out


def exchange(alice: AlicePostProcessing, bob: BobPostProcessing, tamper: Tamper) -> None:
    """Run a block, letting `tamper(direction, frame number, frame)` rewrite each frame."""
    bob.start()
    counts = {"to_alice": 0, "to_bob": 0}
    for _ in range(100_000):
        moved = False
        for direction, src, dst in (("to_alice", bob, alice), ("to_bob", alice, bob)):
            for frame in frames(src.data_to_send()):
                moved = True
                dst.receive_data(tamper(direction, counts[direction], frame))
                counts[direction] += 1
        if alice.next_event() or not moved:
            return


def flip_byte(frame: bytes, at: int) -> bytes:
    return frame[:at] + bytes([frame[at] ^ 0x01]) + frame[at + 1 :]


@pytest.fixture
def pair() -> tuple[AlicePostProcessing, BobPostProcessing]:
    return endpoints(*lab_block(), lab_config())


def test_forged_tagged_message_is_rejected(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair

    def forge(direction: str, index: int, frame: bytes) -> bytes:
        return flip_byte(frame, 12) if direction == "to_alice" and index == 0 else frame

    with pytest.raises(AuthenticationError):
        exchange(alice, bob, forge)
    assert alice.state is State.ERROR
    with pytest.raises(LocalProtocolError):
        alice.receive_data(b"\x00")


def test_altered_parity_reply_is_rejected(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair

    def alter(direction: str, index: int, frame: bytes) -> bytes:
        if direction == "to_bob" and frame[0] == MessageType.PARITY_REPLY and index == 5:
            return flip_byte(frame, 9)  # first data byte after the bit count
        return frame

    # Bob rejects Alice's next tag, or notices inconsistent parities before it arrives.
    with pytest.raises((AuthenticationError, RemoteProtocolError, PostProcessingAbortedError)):
        exchange(alice, bob, alter)
    assert bob.next_event() is None
    assert alice.next_event() is None
    assert bob.state is State.ERROR


def test_altered_parity_query_is_caught_by_the_verify_tag(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair

    def alter(direction: str, index: int, frame: bytes) -> bytes:
        if direction == "to_alice" and frame[0] == MessageType.PARITY_QUERY and index == 4:
            return flip_byte(frame, len(frame) - 1)  # the last node id
        return frame

    with pytest.raises((AuthenticationError, RemoteProtocolError)):
        exchange(alice, bob, alter)
    assert alice.state is State.ERROR
    assert alice.next_event() is None


def test_truncated_frame_is_rejected(pair: tuple[AlicePostProcessing, BobPostProcessing]) -> None:
    alice, bob = pair

    def truncate(direction: str, index: int, frame: bytes) -> bytes:
        if direction == "to_alice" and index == 0:
            kind, length = struct.unpack_from(">BI", frame)
            return struct.pack(">BI", kind, length - 3) + frame[5 : 5 + length - 3] + frame[-16:]
        return frame

    with pytest.raises((AuthenticationError, RemoteProtocolError)):
        exchange(alice, bob, truncate)


def test_replayed_messages_are_rejected(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair
    bob.start()
    sift = bob.data_to_send()
    alice.receive_data(sift)
    with pytest.raises(AuthenticationError):
        alice.receive_data(sift)


def test_replayed_parity_query_fails_at_verification(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair
    seen: list[bytes] = []

    def replay(direction: str, index: int, frame: bytes) -> bytes:
        if direction == "to_alice" and frame[0] == MessageType.PARITY_QUERY:
            seen.append(frame)
            if len(seen) == 3:
                alice.receive_data(seen[0])  # Eve replays an old query first
                alice.data_to_send()  # and swallows the answer
        return frame

    with pytest.raises((AuthenticationError, RemoteProtocolError)):
        exchange(alice, bob, replay)


def test_reflected_message_is_rejected(pair: tuple[AlicePostProcessing, BobPostProcessing]) -> None:
    alice, bob = pair
    bob.start()
    alice.receive_data(bob.data_to_send())
    reply = alice.data_to_send()
    with pytest.raises((AuthenticationError, RemoteProtocolError)):
        alice.receive_data(reply)


def test_oversized_and_unknown_frames(pair: tuple[AlicePostProcessing, BobPostProcessing]) -> None:
    alice, _ = pair
    with pytest.raises(RemoteProtocolError, match="cap"):
        alice.receive_data(struct.pack(">BI", MessageType.SIFT, 1 << 30))
    _, bob = endpoints(*lab_block(), lab_config())
    bob.start()
    with pytest.raises(RemoteProtocolError, match="unknown"):
        bob.receive_data(b"\x63" + bytes(30))


def test_error_injected_after_cascade_is_caught(
    pair: tuple[AlicePostProcessing, BobPostProcessing], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = pair
    original = CascadeBob.next_queries

    def corrupt_when_done(self: CascadeBob) -> object:
        queries = original(self)
        if queries is None:
            self.bits[17] ^= 1  # one wrong bit in Bob's corrected key
        return queries

    monkeypatch.setattr(CascadeBob, "next_queries", corrupt_when_done)
    result = run_in_memory(alice, bob)
    assert result.abort_reason == "verification failed: keys differ after error correction"
    assert bob.state is State.ABORTED
    assert alice.state is State.ABORTED


def test_any_chunking_gives_the_same_block() -> None:
    whole = run_in_memory(*endpoints(*lab_block(seed=9), lab_config()))
    assert whole.bob is not None
    alice, bob = endpoints(*lab_block(seed=9), lab_config())
    rng = np.random.default_rng(0)

    def chunked(direction: str, index: int, frame: bytes) -> bytes:
        target = alice if direction == "to_alice" else bob
        cuts = np.sort(rng.integers(0, len(frame), 4))
        for a, b in zip([0, *cuts], [*cuts, len(frame) - 1], strict=True):
            target.receive_data(frame[a:b])
        return frame[-1:]

    exchange(alice, bob, chunked)
    event = bob.next_event()
    assert event is not None
    assert event.key == whole.bob.key


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_hostile_bytes_only_raise_remote_or_authentication_errors(
    data: bytes, to_bob: bool
) -> None:
    alice, bob = endpoints(*lab_block(pulses=20_000), lab_config())
    target: AlicePostProcessing | BobPostProcessing = alice
    if to_bob:
        bob.start()
        target = bob
    try:
        target.receive_data(data)
    except (RemoteProtocolError, AuthenticationError):
        assert target.state is State.ERROR


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(MessageType)),
    st.binary(max_size=120),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 3),
)
def test_well_framed_hostile_messages_only_raise_remote_or_authentication_errors(
    kind: MessageType, payload: bytes, tag: bytes, stage: int
) -> None:
    """Frames with a valid header but forged content, at several points of the exchange."""
    alice, bob = endpoints(*lab_block(pulses=20_000), lab_config())
    bob.start()
    if stage >= 1:
        alice.receive_data(bob.data_to_send())
    if stage >= 2:
        bob.receive_data(alice.data_to_send())
    target: AlicePostProcessing | BobPostProcessing = alice if stage % 2 == 0 else bob
    untagged = kind in (MessageType.PARITY_QUERY, MessageType.PARITY_REPLY)
    frame = struct.pack(">BI", kind, len(payload)) + payload + (b"" if untagged else tag)
    try:
        target.receive_data(frame)
    except (RemoteProtocolError, AuthenticationError):
        assert target.state is State.ERROR


def test_transfer_loop_is_bounded() -> None:
    alice, bob = endpoints(*lab_block(), lab_config())
    with pytest.raises(LocalProtocolError, match="max_messages"):
        run_in_memory(alice, bob, max_messages=3)


def test_parity_flood_aborts_before_disclosure(
    pair: tuple[AlicePostProcessing, BobPostProcessing],
) -> None:
    alice, bob = pair
    bob.start()
    alice.receive_data(bob.data_to_send())
    bob.receive_data(alice.data_to_send())
    alice.receive_data(bob.data_to_send())
    bob.receive_data(alice.data_to_send())  # Estimate: Bob now sends his first query
    bob.data_to_send()
    count = 100_000  # more parities than the ~47,000-bit key
    flood = encode_payload(
        ParityQuery(np.zeros(count, dtype=np.uint8), np.ones(count, dtype=np.uint32))
    )
    frame = struct.pack(">BI", MessageType.PARITY_QUERY, len(flood)) + flood
    with pytest.raises(PostProcessingAbortedError, match="more parities than the key"):
        alice.receive_data(frame)
    assert alice.state is State.ABORTED
