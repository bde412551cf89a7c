"""Streaming: ciphertexts are serialized one at a time, sent as views, and yielded on arrival."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import tenseal as ts

from integrations.tenseal import recv_ckks_vectors, send_ckks_vectors
from qkdlink.channel import Channel
from tests.integrations.tenseal._helpers import CKKS_TOLERANCE, channel_pair, make_context

Log = list[tuple[str, int, object]]
"""(event, index or size, object): ("serialize", index, blob) or ("send", size, viewed buffer)."""


async def test_the_receiver_has_the_first_ciphertext_before_the_last_is_made() -> None:
    """The sender's source makes its last vector only once the receiver has the first one: a
    sender that drains its source first, or a receiver that waits for the whole stream,
    deadlocks here and the gate's timeout fails the test."""
    ctx = make_context()
    rows = np.random.default_rng().uniform(-1, 1, size=(4, 16))
    first_received = asyncio.Event()
    events: list[str] = []

    async def source() -> AsyncIterator[ts.CKKSVector]:
        for i, row in enumerate(rows):
            if i == len(rows) - 1:
                await asyncio.wait_for(first_received.wait(), 10)
            events.append(f"made {i}")
            yield ts.ckks_vector(ctx, row.tolist())

    async def receive(channel: Channel) -> list[list[float]]:
        out: list[list[float]] = []
        async for vector in recv_ckks_vectors(channel, ctx):
            events.append(f"received {len(out)}")
            first_received.set()
            out.append(vector.decrypt())
        return out

    async with channel_pair() as (a, b):
        count, received = await asyncio.wait_for(
            asyncio.gather(send_ckks_vectors(a, source()), receive(b)), 30
        )
    assert count == len(rows)
    assert events.index("received 0") < events.index(f"made {len(rows) - 1}")
    np.testing.assert_allclose(np.array(received), rows, atol=CKKS_TOLERANCE)


class _RecordingChannel:
    """Wraps a channel and logs each message sent: its size and the buffer it views."""

    def __init__(self, inner: Channel, log: Log) -> None:
        self._inner = inner
        self._log = log

    async def send(self, data: bytes | memoryview) -> None:
        owner = data.obj if isinstance(data, memoryview) else None
        self._log.append(("send", len(data), owner))
        await self._inner.send(data)

    async def recv(self) -> bytes:
        return await self._inner.recv()


class _RecordedVector:
    """A CKKS vector whose serialization is logged (when, and which bytes object it made)."""

    def __init__(self, vector: ts.CKKSVector, index: int, log: Log) -> None:
        self._vector = vector
        self._index = index
        self._log = log

    def serialize(self) -> bytes:
        blob: bytes = self._vector.serialize()
        self._log.append(("serialize", self._index, blob))
        return blob


async def test_each_vector_is_serialized_after_the_previous_one_is_sent_as_views() -> None:
    ctx = make_context()
    rows = np.random.default_rng().uniform(-1, 1, size=(3, 8))
    log: Log = []
    fragment = 100_000  # ~330 kB per ciphertext: four fragments each

    vectors = (_RecordedVector(ts.ckks_vector(ctx, r.tolist()), i, log) for i, r in enumerate(rows))
    async with channel_pair() as (a, b):

        async def receive() -> list[list[float]]:
            return [v.decrypt() async for v in recv_ckks_vectors(b, ctx)]

        sender = send_ckks_vectors(_RecordingChannel(a, log), vectors, fragment_size=fragment)
        _, received = await asyncio.wait_for(asyncio.gather(sender, receive()), 30)
    np.testing.assert_allclose(np.array(received), rows, atol=CKKS_TOLERANCE)

    # The log must read, per vector: serialize, header, then fragments viewing that very blob.
    position = 0
    for index in range(len(rows)):
        kind, got_index, blob = log[position]
        assert (kind, got_index) == ("serialize", index)
        assert isinstance(blob, bytes)
        assert log[position + 1][0] == "send"  # the header
        fragments = -(-len(blob) // fragment)
        assert fragments > 1
        sent = log[position + 2 : position + 2 + fragments]
        assert all(kind == "send" and owner is blob for kind, _, owner in sent)
        assert sum(size for _, size, _ in sent) == len(blob)
        position += 2 + fragments
    assert [kind for kind, _, _ in log[position:]] == ["send"]  # the END marker, nothing else
