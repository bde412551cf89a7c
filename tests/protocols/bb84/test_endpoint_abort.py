"""A peer's abort reason is peer-chosen text: it reaches our exception bounded and quoted."""

from __future__ import annotations

import pytest

from protocols.bb84 import State
from protocols.bb84._codec import MAX_REASON_BYTES
from protocols.errors import PostProcessingAbortedError
from tests.protocols.bb84.conftest import endpoints, lab_block, lab_config


def test_hostile_abort_reason_is_bounded_and_cannot_forge_lines() -> None:
    alice, bob = endpoints(*lab_block(qber=0.02), lab_config())
    hostile = "stop\nERROR forged log line " + "x" * (MAX_REASON_BYTES - 64)
    bob._abort(hostile)  # an authenticated Abort with a reason of the peer's choosing
    with pytest.raises(PostProcessingAbortedError) as info:
        alice.receive_data(bob.data_to_send())
    message = str(info.value)
    assert "\n" not in message
    assert "\\nERROR forged" in message  # escaped, still readable
    assert len(message) < 300
    assert alice.state is State.ABORTED
