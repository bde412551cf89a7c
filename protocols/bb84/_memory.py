"""Run both ends of a block in memory, with a bounded transfer loop and traffic counts."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from protocols.bb84._alice import AlicePostProcessing
from protocols.bb84._bob import BobPostProcessing
from protocols.bb84._state import State
from protocols.bb84.events import KeyDistilled
from protocols.errors import LocalProtocolError, PostProcessingAbortedError

__all__ = ["TransferResult", "run_in_memory"]

_FINISHED = frozenset({State.ABORTED, State.ERROR, State.DONE})


@dataclass(frozen=True, slots=True)
class TransferResult:
    """Outcome and classical traffic of one block run in memory."""

    alice: KeyDistilled | None
    """Alice's result (None if aborted)."""
    bob: KeyDistilled | None
    """Bob's result (None if aborted)."""
    abort_reason: str | None
    """Why the block ended without key, or None."""
    bytes_alice_to_bob: int
    """Classical bytes Alice sent."""
    bytes_bob_to_alice: int
    """Classical bytes Bob sent."""
    messages: int
    """Messages exchanged, both ways."""
    round_trips: int
    """Bob-to-Alice-and-back exchanges."""

    @property
    def classical_bytes(self) -> int:
        """Bytes exchanged, both ways."""
        return self.bytes_alice_to_bob + self.bytes_bob_to_alice

    @property
    def aborted(self) -> bool:
        """Whether the block ended without key."""
        return self.abort_reason is not None


def run_in_memory(
    alice: AlicePostProcessing, bob: BobPostProcessing, *, max_messages: int = 1_000_000
) -> TransferResult:
    """Start Bob and shuttle bytes until both ends finish or one aborts.

    Authentication and protocol errors propagate (RemoteProtocolError, AuthenticationError);
    an abort is reported in the result, not raised.

    Raises:
        LocalProtocolError: the exchange did not finish within `max_messages` messages.
    """
    reason: str | None = None
    alice_event: KeyDistilled | None = None
    bob_event: KeyDistilled | None = None
    try:
        bob.start()
        for _ in range(max_messages):
            to_alice = bob.data_to_send()
            if to_alice:
                alice.receive_data(to_alice)
            bob_event = bob_event or bob.next_event()
            alice_event = alice_event or alice.next_event()
            if alice_event is not None and bob_event is not None:
                break
            to_bob = alice.data_to_send()
            if to_bob:
                bob.receive_data(to_bob)
            bob_event = bob_event or bob.next_event()
            if not to_alice and not to_bob:
                raise LocalProtocolError("exchange stalled")
        else:
            raise LocalProtocolError("exchange exceeded max_messages")
    except PostProcessingAbortedError as exc:
        reason = exc.reason
        # Whichever end aborted queued an authenticated Abort: deliver it (and anything queued
        # before it) so the other end learns the reason over the byte channel and ends in
        # ABORTED too. An abort without an Abort (the pool could not pay for a tag) reaches
        # no one: that end has nothing authenticated to say.
        for sender, receiver in ((alice, bob), (bob, alice)):
            pending = sender.data_to_send()
            if pending and receiver.state not in _FINISHED:
                with contextlib.suppress(PostProcessingAbortedError):
                    receiver.receive_data(pending)
        alice_event = bob_event = None
    return TransferResult(
        alice=alice_event,
        bob=bob_event,
        abort_reason=reason,
        bytes_alice_to_bob=alice.bytes_sent,
        bytes_bob_to_alice=bob.bytes_sent,
        messages=alice.messages_sent + bob.messages_sent,
        round_trips=min(alice.messages_sent, bob.messages_sent),
    )
