"""The state table: allowed paths, unexpected messages, sticky ERROR."""

from __future__ import annotations

import pytest

from protocols.bb84._codec import MessageType as T
from protocols.bb84._state import Role, State, StateMachine
from protocols.errors import LocalProtocolError, RemoteProtocolError


def test_bob_happy_path() -> None:
    m = StateMachine(Role.BOB)
    m.on_send(T.SIFT)
    m.on_receive(T.SIFT_REPLY)
    m.on_send(T.TEST_BITS)
    m.on_receive(T.ESTIMATE)
    for _ in range(3):
        m.on_send(T.PARITY_QUERY)
        m.on_receive(T.PARITY_REPLY)
    m.on_send(T.VERIFY)
    m.on_receive(T.PRIVACY_AMPLIFICATION)
    m.on_send(T.CONFIRM)
    assert m.state is State.DONE
    assert m.terminal


def test_alice_happy_path() -> None:
    m = StateMachine(Role.ALICE)
    m.on_receive(T.SIFT)
    m.on_send(T.SIFT_REPLY)
    m.on_receive(T.TEST_BITS)
    m.on_send(T.ESTIMATE)
    m.on_receive(T.VERIFY)
    m.on_send(T.PRIVACY_AMPLIFICATION)
    m.on_receive(T.CONFIRM)
    assert m.state is State.DONE


def test_unexpected_message_is_remote_error_and_error_sticks() -> None:
    m = StateMachine(Role.ALICE)
    with pytest.raises(RemoteProtocolError, match="unexpected"):
        m.on_receive(T.VERIFY)
    assert m.state is State.ERROR
    with pytest.raises(RemoteProtocolError):
        m.on_receive(T.SIFT)
    with pytest.raises(RemoteProtocolError):
        m.on_receive(T.ABORT)  # no way out of ERROR, not even an abort
    assert m.state is State.ERROR


def test_wrong_send_is_local_error() -> None:
    m = StateMachine(Role.BOB)
    with pytest.raises(LocalProtocolError):
        m.on_send(T.VERIFY)
    assert m.state is State.IDLE


def test_abort_from_any_live_state() -> None:
    m = StateMachine(Role.BOB)
    m.on_send(T.SIFT)
    m.on_receive(T.ABORT)
    assert m.state is State.ABORTED
    assert m.terminal
