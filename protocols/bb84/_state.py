"""The post-processing state machines of both roles: one enum, one transition table.

Every message an endpoint sends or receives is a transition; a pair missing from the table is a
protocol violation (RemoteProtocolError for received messages, LocalProtocolError for our own).
After an error the machine stays in ERROR; DONE and ABORTED are terminal too.
"""

from __future__ import annotations

import enum

from protocols.bb84._codec import MessageType
from protocols.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["Role", "State", "StateMachine"]


class Role(enum.IntEnum):
    """Which end: Bob drives error correction, Alice answers and decides."""

    BOB = 0
    ALICE = 1


class State(enum.Enum):
    """Where one endpoint stands in the exchange."""

    IDLE = "idle"
    """Bob: not started. Alice: waiting for Bob's sifting announcement."""
    SIFTING = "sifting"
    """Bases announced, waiting for the other side's sifting data."""
    ESTIMATING = "estimating"
    """Test bits disclosed; Bob waits for Alice's estimation result."""
    RECONCILING = "reconciling"
    """Cascade parity queries and replies."""
    VERIFYING = "verifying"
    """Verification tag and privacy amplification exchanged; waiting for the last message."""
    DONE = "done"
    """Key distilled."""
    ABORTED = "aborted"
    """The block ended without key, with a reason."""
    ERROR = "error"
    """A protocol or authentication error; the endpoint is unusable."""

    # Members are singletons compared by identity; Enum's default hash runs Python code (it
    # hashes the name), and the state is looked up a few times per message.
    __hash__ = object.__hash__


class Direction(enum.Enum):
    SEND = "send"
    RECEIVE = "receive"

    __hash__ = object.__hash__  # as State's


_S, _R = Direction.SEND, Direction.RECEIVE
_TERMINAL = frozenset({State.DONE, State.ABORTED, State.ERROR})

# (role, state, direction, message) -> next state
_TRANSITIONS: dict[tuple[Role, State, Direction, MessageType], State] = {
    (Role.BOB, State.IDLE, _S, MessageType.SIFT): State.SIFTING,
    (Role.BOB, State.SIFTING, _R, MessageType.SIFT_REPLY): State.SIFTING,
    (Role.BOB, State.SIFTING, _S, MessageType.TEST_BITS): State.ESTIMATING,
    (Role.BOB, State.ESTIMATING, _R, MessageType.ESTIMATE): State.RECONCILING,
    (Role.BOB, State.RECONCILING, _S, MessageType.PARITY_QUERY): State.RECONCILING,
    (Role.BOB, State.RECONCILING, _R, MessageType.PARITY_REPLY): State.RECONCILING,
    (Role.BOB, State.RECONCILING, _S, MessageType.VERIFY): State.VERIFYING,
    (Role.BOB, State.VERIFYING, _R, MessageType.PRIVACY_AMPLIFICATION): State.VERIFYING,
    (Role.BOB, State.VERIFYING, _S, MessageType.CONFIRM): State.DONE,
    (Role.ALICE, State.IDLE, _R, MessageType.SIFT): State.SIFTING,
    (Role.ALICE, State.SIFTING, _S, MessageType.SIFT_REPLY): State.SIFTING,
    (Role.ALICE, State.SIFTING, _R, MessageType.TEST_BITS): State.ESTIMATING,
    (Role.ALICE, State.ESTIMATING, _S, MessageType.ESTIMATE): State.RECONCILING,
    (Role.ALICE, State.RECONCILING, _R, MessageType.PARITY_QUERY): State.RECONCILING,
    (Role.ALICE, State.RECONCILING, _S, MessageType.PARITY_REPLY): State.RECONCILING,
    (Role.ALICE, State.RECONCILING, _R, MessageType.VERIFY): State.VERIFYING,
    (Role.ALICE, State.VERIFYING, _S, MessageType.PRIVACY_AMPLIFICATION): State.VERIFYING,
    (Role.ALICE, State.VERIFYING, _R, MessageType.CONFIRM): State.DONE,
}


class StateMachine:
    """The current state of one endpoint; moves only along the table."""

    __slots__ = ("role", "state")

    def __init__(self, role: Role) -> None:
        self.role = role
        self.state = State.IDLE

    def on_send(self, kind: MessageType) -> None:
        """Record that we send `kind`; Abort is allowed from any live state."""
        if kind is MessageType.ABORT and self.state not in _TERMINAL:
            self.state = State.ABORTED
            return
        nxt = _TRANSITIONS.get((self.role, self.state, _S, kind))
        if nxt is None:
            raise LocalProtocolError(f"cannot send {kind.name} in state {self.state.name}")
        self.state = nxt

    def on_receive(self, kind: MessageType) -> None:
        """Record that the peer sent `kind`.

        Raises:
            RemoteProtocolError: the message is not allowed now (the machine moves to ERROR).
        """
        if kind is MessageType.ABORT and self.state not in _TERMINAL:
            self.state = State.ABORTED
            return
        nxt = _TRANSITIONS.get((self.role, self.state, _R, kind))
        if nxt is None:
            prior = self.state
            self.state = State.ERROR
            raise RemoteProtocolError(f"unexpected {kind.name} in state {prior.name}")
        self.state = nxt

    def abort(self) -> None:
        """Enter ABORTED unless already terminal."""
        if self.state not in _TERMINAL:
            self.state = State.ABORTED

    def fail(self) -> None:
        """Enter ERROR for good."""
        self.state = State.ERROR

    @property
    def terminal(self) -> bool:
        """Whether no more messages may flow."""
        return self.state in _TERMINAL
