"""The record layer's state enum and its transition table (one place, as in h11's `_state.py`)."""

from __future__ import annotations

import enum

from protocols.errors import LocalProtocolError

__all__ = ["RecordState", "Transition", "next_state"]


class RecordState(enum.Enum):
    """Where a record connection is; `ERROR` is terminal."""

    OPEN = "open"
    LOCAL_CLOSED = "local-closed"
    """We sent CLOSE; the peer may still send."""
    REMOTE_CLOSED = "remote-closed"
    """The peer sent CLOSE; we may still send."""
    CLOSED = "closed"
    ERROR = "error"


class Transition(enum.Enum):
    """What happened."""

    SEND_CLOSE = "send-close"
    RECEIVE_CLOSE = "receive-close"
    FAIL = "fail"


_TABLE: dict[tuple[RecordState, Transition], RecordState] = {
    (RecordState.OPEN, Transition.SEND_CLOSE): RecordState.LOCAL_CLOSED,
    (RecordState.OPEN, Transition.RECEIVE_CLOSE): RecordState.REMOTE_CLOSED,
    (RecordState.LOCAL_CLOSED, Transition.RECEIVE_CLOSE): RecordState.CLOSED,
    (RecordState.REMOTE_CLOSED, Transition.SEND_CLOSE): RecordState.CLOSED,
}


def next_state(state: RecordState, transition: Transition) -> RecordState:
    """The state after `transition`; any failure leads to ERROR, an unknown transition raises."""
    if transition is Transition.FAIL:
        return RecordState.ERROR
    try:
        return _TABLE[state, transition]
    except KeyError:
        raise LocalProtocolError(f"cannot {transition.value} in state {state.value}") from None
