"""The master side of the sync: offsets reach the peer in order, once each, whichever task sends.

A request that finds the pipeline idle sends its own sync; others queue behind it. These tests
drive both ways against an in-memory store and a peer that records every message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from qkdlink.errors import ConfigurationError, PeerKmeError
from qkdlink.keystore import Allocation
from qkdlink.kme._sync import MasterSync


class _Store:
    """Hands out consecutive ranges of a stream whose byte i is i % 251."""

    def __init__(self) -> None:
        self.consumed = 0
        self.reservations = 0

    async def reserve(self, link_id: str, partition: int, lengths: Sequence[int]) -> list[Any]:
        self.reservations += 1
        allocations = []
        for length in lengths:
            start = self.consumed
            material = bytes(i % 251 for i in range(start, start + length))
            allocations.append(Allocation(start, material))
            self.consumed += length
        return allocations


class _Peer:
    """Records each message's keys and the task that sent it; `received` is set on each
    message; `gate` holds answers back; `fail` refuses the next one."""

    def __init__(self) -> None:
        self.messages: list[list[list[Any]]] = []
        self.senders: list[asyncio.Task[Any] | None] = []
        self.received = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def post(self, path: str, body: bytes) -> dict[str, object]:
        message = json.loads(body)
        keys = [key for group in message["groups"] for key in group["keys"]]
        self.messages.append(keys)
        self.senders.append(asyncio.current_task())
        self.received.set()
        await self.gate.wait()
        if self.fail:
            self.fail = False
            raise PeerKmeError("peer KME answered 503")
        return {"assigned": len(keys)}


@asynccontextmanager
async def _running(store: _Store, peer: _Peer) -> AsyncIterator[MasterSync]:
    sync = MasterSync(link_id="l", partition=0, store=store, peer=peer)  # type: ignore[arg-type]
    task = asyncio.create_task(sync.run())
    await asyncio.sleep(0)  # run() is up
    try:
        yield sync
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _check_stream(peer: _Peer, answers: list[list[Any]]) -> None:
    """Offsets increase across all messages, and each answer is the stream at its offsets."""
    sent = [tuple(key) for message in peer.messages for key in message]
    offsets = [offset for _, offset, _ in sent]
    assert offsets == sorted(offsets)
    assert len(set(offsets)) == len(offsets)
    by_id = {key_id: (offset, length) for key_id, offset, length in sent}
    for keys in answers:
        for key in keys:
            offset, length = by_id[key.key_id]
            assert key.material == bytes(i % 251 for i in range(offset, offset + length))


async def _sent(peer: _Peer) -> None:
    """Wait until the peer has a new message (a bound on a hang, not a measurement)."""
    async with asyncio.timeout(10):
        await peer.received.wait()
    peer.received.clear()


async def test_idle_requests_send_their_own_sync_in_order() -> None:
    store, peer = _Store(), _Peer()
    async with _running(store, peer) as sync:
        first = await sync.reserve("SAE_a", ["SAE_b"], [32, 32])  # queued: no spare range yet
        answers = [await sync.reserve("SAE_a", ["SAE_b"], [32, 32]) for _ in range(20)]
    assert len(peer.messages) == 21
    this_task = asyncio.current_task()
    assert peer.senders[0] is not this_task
    assert peer.senders[1:] == [this_task] * 20  # each sync sent from the request's own task
    answers.insert(0, first)
    assert store.reservations == 1  # all from the range reserved ahead
    _check_stream(peer, answers)


async def test_requests_behind_a_sync_in_flight_queue_and_keep_the_order() -> None:
    store, peer = _Store(), _Peer()
    async with _running(store, peer) as sync:
        await sync.reserve("SAE_a", ["SAE_b"], [32])  # fills the spare range
        peer.gate.clear()
        peer.received.clear()
        first = asyncio.create_task(sync.reserve("SAE_a", ["SAE_b"], [32]))
        await _sent(peer)  # the first request's sync is with the peer
        queued = 0

        async def queue_one() -> list[Any]:
            nonlocal queued
            queued += 1  # reserve queues its request before its first suspension
            return await sync.reserve("SAE_a", ["SAE_b"], [32])

        rest = [asyncio.create_task(queue_one()) for _ in range(30)]
        async with asyncio.timeout(10):  # a bound on a hang, not a measurement
            while queued < len(rest):  # noqa: ASYNC110 (a counter, no event to wait on)
                await asyncio.sleep(0)
        peer.gate.set()
        answers = [await first] + [await task for task in rest]
        # Idle again: the next request sends its own sync after every queued one.
        answers.append(await sync.reserve("SAE_a", ["SAE_b"], [64]))
    assert len(peer.messages) < 33  # the queued requests were coalesced
    this_task = asyncio.current_task()
    assert peer.senders[1] is first
    assert peer.senders[-1] is this_task
    # The queued requests were sent by the pipeline, not from their own (or this) task.
    assert not {id(task) for task in peer.senders[2:-1]} & {id(t) for t in [*rest, this_task]}
    _check_stream(peer, answers)


async def test_a_refused_sync_burns_its_bytes_and_the_next_one_goes_on() -> None:
    store, peer = _Store(), _Peer()
    async with _running(store, peer) as sync:
        ok = await sync.reserve("SAE_a", ["SAE_b"], [32])
        peer.fail = True
        with pytest.raises(PeerKmeError):
            await sync.reserve("SAE_a", ["SAE_b"], [32])
        after = await sync.reserve("SAE_a", ["SAE_b"], [32])
    burned = peer.messages[1][0][1]
    assert after[0].key_id != peer.messages[1][0][0]
    assert peer.messages[2][0][1] > burned  # never handed out again
    _check_stream(peer, [ok, after])


async def test_a_request_cancelled_while_sending_its_own_sync_burns_its_bytes() -> None:
    """aiohttp cancels handlers at shutdown (or when the SAE disconnects, if configured so):
    the cut range is burned, and the link goes on with higher offsets."""
    store, peer = _Store(), _Peer()
    async with _running(store, peer) as sync:
        ok = await sync.reserve("SAE_a", ["SAE_b"], [32])  # fills the spare range
        peer.gate.clear()
        peer.received.clear()
        cancelled = asyncio.create_task(sync.reserve("SAE_a", ["SAE_b"], [32]))
        await _sent(peer)
        assert peer.senders[-1] is cancelled  # the fast path, in the request's own task
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        peer.gate.set()
        after = await sync.reserve("SAE_a", ["SAE_b"], [32])
        assert peer.senders[-1] is asyncio.current_task()  # idle again: its own sync
        more = await asyncio.gather(*(sync.reserve("SAE_a", ["SAE_b"], [32]) for _ in range(5)))
    burned_id, burned_offset, burned_length = peer.messages[1][0]
    later = [key for message in peer.messages[2:] for key in message]
    assert all(offset >= burned_offset + burned_length for _, offset, _ in later)
    ranges = {
        key_id: (offset, length) for message in peer.messages for key_id, offset, length in message
    }
    for key in [key for keys in [ok, after, *more] for key in keys]:
        assert key.key_id != burned_id
        offset, length = ranges[key.key_id]
        assert offset + length <= burned_offset or offset >= burned_offset + burned_length
    _check_stream(peer, [ok, after, *more])


def test_a_link_id_that_cannot_be_in_a_url_path_is_refused_at_construction() -> None:
    """Checked once when the link starts, not as a local error in every sync."""
    with pytest.raises(ConfigurationError):
        MasterSync(link_id="l\r\nX: 1", partition=0, store=_Store(), peer=_Peer())  # type: ignore[arg-type]
