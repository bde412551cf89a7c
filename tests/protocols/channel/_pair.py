"""Two record layers wired back to back, as aioquic's and h11's tests do."""

from __future__ import annotations

import os

from protocols.channel import EpochKeys, RecordConfig, RecordLayer, initial_epoch_keys
from protocols.channel.events import Event


def fresh_keys() -> tuple[EpochKeys, EpochKeys]:
    """Identical epoch-0 keys for both ends (as a finished handshake would give)."""
    hh, i2r, r2i = os.urandom(32), os.urandom(32), os.urandom(32)
    return initial_epoch_keys(hh, i2r, r2i), initial_epoch_keys(hh, i2r, r2i)


def make_pair(
    config: RecordConfig | None = None, now: float = 0.0
) -> tuple[RecordLayer, RecordLayer]:
    config = config or RecordConfig()
    ki, kr = fresh_keys()
    return (
        RecordLayer(config, initiator=True, keys=ki, now=now),
        RecordLayer(config, initiator=False, keys=kr, now=now),
    )


def drain(layer: RecordLayer) -> list[Event]:
    out: list[Event] = []
    while (event := layer.next_event()) is not None:
        out.append(event)
    return out


def transfer(src: RecordLayer, dst: RecordLayer, now: float = 0.0, limit: int = 1 << 20) -> int:
    """Move everything `src` has queued into `dst`; returns the wire bytes moved (bounded loop)."""
    moved = 0
    for _ in range(100_000):
        data = src.data_to_send(limit)
        if not data:
            return moved
        moved += len(data)
        dst.receive_data(data, now)
    raise AssertionError("transfer did not converge")
