"""Wegman-Carter authentication: pool accounting, tags over the transcript, opaque failures."""

from __future__ import annotations

import pytest

from protocols.bb84._auth import AuthKeyPool, MessageAuthenticator
from protocols.errors import AuthenticationError, LocalProtocolError, PostProcessingAbortedError

KEY = bytes(range(200))


def pair() -> tuple[MessageAuthenticator, MessageAuthenticator]:
    return (
        MessageAuthenticator(AuthKeyPool(KEY), role=0),
        MessageAuthenticator(AuthKeyPool(KEY), role=1),
    )


def test_pool_take_refill_and_exhaustion() -> None:
    pool = AuthKeyPool(b"abcdef")
    assert pool.take(2) == b"ab"
    assert (pool.remaining, pool.consumed) == (4, 2)
    pool.refill(b"gh")
    assert pool.take(6) == b"cdefgh"
    with pytest.raises(PostProcessingAbortedError, match="exhausted"):
        pool.take(1)
    with pytest.raises(LocalProtocolError):
        pool.take(-1)
    assert "abc" not in repr(pool)


def test_tags_cover_untagged_frames_and_consume_pads() -> None:
    bob, alice = pair()
    tag = bob.seal(b"first", tagged=True)
    alice.open(b"first", tag, tagged=True)
    assert bob.seal(b"query", tagged=False) == b""
    alice.open(b"query", b"", tagged=False)
    tag = bob.seal(b"verify", tagged=True)
    alice.open(b"verify", tag, tagged=True)
    # r once (16 bytes) and one 16-byte pad per tagged message.
    assert bob.consumed_bytes == alice.consumed_bytes == 48


def test_altered_untagged_frame_fails_at_the_next_tag() -> None:
    bob, alice = pair()
    bob.seal(b"query", tagged=False)
    alice.open(b"qu3ry", b"", tagged=False)
    tag = bob.seal(b"verify", tagged=True)
    with pytest.raises(AuthenticationError):
        alice.open(b"verify", tag, tagged=True)


def test_frame_boundaries_are_authenticated() -> None:
    bob, alice = pair()
    bob.seal(b"ab", tagged=False)
    alice.open(b"a", b"", tagged=False)
    tag = bob.seal(b"bc", tagged=True)
    with pytest.raises(AuthenticationError):
        alice.open(b"bbc", tag, tagged=True)


def test_replay_and_reflection_fail() -> None:
    bob, alice = pair()
    tag = bob.seal(b"hello", tagged=True)
    alice.open(b"hello", tag, tagged=True)
    with pytest.raises(AuthenticationError):
        alice.open(b"hello", tag, tagged=True)  # replay: new pad and counter
    bob2, alice2 = pair()
    tag = bob2.seal(b"hello", tagged=True)
    with pytest.raises(AuthenticationError):
        bob2.open(b"hello", tag, tagged=True)  # reflected back to its sender
    assert alice2.consumed_bytes == 0
