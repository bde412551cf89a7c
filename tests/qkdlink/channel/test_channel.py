"""The public Channel API over the in-memory transport and TCP: data, arrays, OTP, semantics."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from protocols.errors import LocalProtocolError
from qkdlink.channel import TcpEndpoint, connect, serve
from qkdlink.errors import (
    BusyError,
    ChannelClosedError,
    EndOfChannelError,
    KeyExhaustedError,
    UnexpectedMessageError,
)
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider
from qkdlink.transport import Transport, memory_transport_pair
from tests.qkdlink.channel._helpers import NODES, config_pair, open_pair


async def test_messages_keep_boundaries_both_ways_and_stats_count() -> None:
    link = InMemoryKeyPool()
    a, b = await open_pair(*config_pair(link))
    async with a, b:
        sent = [b"", b"hello", os.urandom(70_000), os.urandom(5 << 20), b"end"]
        for m in sent:
            await a.send(m)
        assert [await b.recv() for _ in sent] == sent
        await b.send(b"ack")
        assert await a.recv() == b"ack"
        assert a.stats.messages_sent == 5
        assert b.stats.bytes_received == sum(map(len, sent))
        assert a.stats.qkd_keys_consumed == b.stats.qkd_keys_consumed == 1
        assert link.issued(*NODES) == link.delivered(*NODES) == 1
        assert a.mode == "qkd+x25519+mlkem"
        assert a.handshake_hash == b.handshake_hash


async def test_arrays_round_trip_and_type_mismatch_loses_nothing() -> None:
    a, b = await open_pair(*config_pair())
    async with a, b:
        arr = np.random.default_rng(1).standard_normal((300, 200))
        await a.send_array(arr)
        await a.send(b"after")
        with pytest.raises(UnexpectedMessageError):
            await b.recv()
        got = await b.recv_array()
        np.testing.assert_array_equal(got, arr)
        assert got.dtype == arr.dtype
        with pytest.raises(UnexpectedMessageError):
            await b.recv_array()
        assert await b.recv() == b"after"


async def test_orderly_close_gives_end_of_channel_after_the_last_message() -> None:
    a, b = await open_pair(*config_pair())
    await a.send(b"one")
    await a.send(b"two")
    await a.aclose()
    assert [m async for m in b] == [b"one", b"two"]
    with pytest.raises(EndOfChannelError):
        await b.recv()
    await b.aclose()


async def test_use_after_own_close_raises_closed() -> None:
    a, b = await open_pair(*config_pair())
    await a.aclose()
    await a.aclose()  # idempotent
    with pytest.raises(ChannelClosedError):
        await a.send(b"x")
    with pytest.raises(ChannelClosedError):
        await a.recv()
    await b.aclose()


async def test_aclose_wakes_a_blocked_receiver_with_closed() -> None:
    a, b = await open_pair(*config_pair())
    waiting = asyncio.create_task(b.recv())
    await asyncio.sleep(0.01)
    await b.aclose()
    with pytest.raises(ChannelClosedError):
        await waiting
    await a.aclose()


async def test_two_receivers_at_once_is_busy() -> None:
    a, b = await open_pair(*config_pair())
    async with a, b:
        first = asyncio.create_task(b.recv())
        await asyncio.sleep(0)
        with pytest.raises(BusyError):
            await b.recv()
        await a.send(b"for the first")
        assert await first == b"for the first"


class _GatedTransport:
    """Passes frames through, but `send` waits while the gate is shut (a stalled network)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.gate.set()
        self.blocked = asyncio.Event()

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if not self.gate.is_set():
            self.blocked.set()
            await self.gate.wait()
        await self.inner.send(frame)

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_two_senders_at_once_is_busy() -> None:
    ta, tb = memory_transport_pair()
    gated = _GatedTransport(ta)
    a, b = await open_pair(*config_pair(), (gated, tb))
    async with a, b:
        gated.gate.clear()  # the network stalls: the first send cannot finish
        big = asyncio.create_task(a.send(bytes(20 << 20)))
        await asyncio.wait_for(gated.blocked.wait(), 10)
        assert not big.done()
        with pytest.raises(BusyError):
            await a.send(b"second sender")
        gated.gate.set()
        assert len(await b.recv()) == 20 << 20
        await big


async def test_one_time_pad_messages_and_exhaustion() -> None:
    link = InMemoryKeyPool(capacity=1 + 8)  # the handshake key, then 8 keys of 32 bytes
    a, b = await open_pair(*config_pair(link))
    async with a, b:
        await a.send_otp(b"x" * 64)  # 96 bytes of pad: 3 keys
        await a.send(b"plain-aead")
        assert await b.recv() == b"x" * 64
        assert await b.recv() == b"plain-aead"
        assert a.stats.otp_key_bytes == b.stats.otp_key_bytes == 96
        with pytest.raises(KeyExhaustedError):
            await a.send_otp(b"y" * 200)  # needs 8 more keys, 5 left
        await a.send(b"still usable")  # no fallback happened, the channel is fine
        assert await b.recv() == b"still usable"
        await a.send_otp(b"z" * 100)  # the 5 fetched keys were kept: 160 bytes
        assert await b.recv() == b"z" * 100


async def test_otp_message_that_cannot_fit_one_record_keeps_its_keys() -> None:
    link = InMemoryKeyPool()
    a, b = await open_pair(*config_pair(link, record_size=1024))
    async with a, b:
        with pytest.raises(LocalProtocolError):
            await a.send_otp(b"m" * 900)  # 30 pad keys: their IDs overflow a 1 KiB record
        issued = link.issued(*NODES)
        assert issued == 1 + 30
        await a.send_otp(b"small")  # served from the keys already fetched
        assert link.issued(*NODES) == issued
        assert await b.recv() == b"small"


async def test_rekeys_by_message_count_under_traffic() -> None:
    link = InMemoryKeyPool()
    a, b = await open_pair(*config_pair(link, rekey_messages=40))
    async with a, b:

        async def pump() -> None:
            for i in range(400):
                await a.send(i.to_bytes(4, "big"))
                if i % 50 == 0:
                    await asyncio.sleep(0.01)

        async def drain() -> list[int]:
            return [int.from_bytes(await b.recv(), "big") for _ in range(400)]

        async with asyncio.timeout(20):
            _, got = await asyncio.gather(pump(), drain())
        assert got == list(range(400))
        assert a.stats.rekeys >= 3
        assert b.stats.rekeys >= a.stats.rekeys - 1
        assert a.stats.qkd_keys_consumed >= 1 + a.stats.rekeys


async def test_rekeys_by_time_with_a_short_interval() -> None:
    a, b = await open_pair(*config_pair(rekey_interval=0.2, reject_after=3.0))
    async with a, b:
        for _i in range(12):
            await a.send(b"tick")
            assert await b.recv() == b"tick"
            await b.send(b"tock")
            assert await a.recv() == b"tock"
            await asyncio.sleep(0.05)
        assert a.stats.rekeys >= 2
        assert a.stats.epoch == a.stats.rekeys


async def test_over_tcp_loopback() -> None:
    ca, cb = config_pair()
    ports: asyncio.Queue[int] = asyncio.Queue()
    server = asyncio.ensure_future(
        serve(cb, TcpEndpoint("127.0.0.1", 0), on_listening=ports.put_nowait)
    )
    port = await asyncio.wait_for(ports.get(), 5)
    async with connect(ca, TcpEndpoint("127.0.0.1", port)) as a:
        b = await asyncio.wait_for(server, 10)
        async with b:
            await a.send(b"over tcp")
            assert await b.recv() == b"over tcp"
            big = os.urandom(3 << 20)
            await b.send(big)
            assert await a.recv() == big


async def test_window_mode_channel() -> None:
    a, b = await open_pair(*config_pair(replay_window=1024))
    async with a, b:
        await a.send(b"w" * 200_000)
        assert await b.recv() == b"w" * 200_000


class _Gate:
    """Sender-side transport wrapper: while holding, frames are kept, then sent as one frame."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.held: list[bytes] | None = None

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if self.held is not None:
            self.held.append(bytes(frame))
            return
        await self.inner.send(frame)

    async def release(self) -> None:
        held, self.held = self.held or [], None
        await self.inner.send(b"".join(held))

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def aclose(self) -> None:
        await self.inner.aclose()


class _SlowKeyById:
    """A slave-side provider whose `dec_keys` takes a while once `slow` is set."""

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.slow = False

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return await self.inner.new_key(peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        if self.slow:
            await asyncio.sleep(0.3)
        return await self.inner.key_by_id(peer, key_id)


async def test_records_behind_an_otp_message_wait_while_its_keys_are_fetched() -> None:
    """The layer holds at most one record fed while OTP keys are awaited; the runtime feeds none.

    The OTP record arrives in one transport frame with 300+ KB of records behind it (all kept),
    and 2 MB more arrive while the receiver fetches the pad keys: they must stay in the
    transport until the keys are provided, or the layer would refuse them.
    """
    link = InMemoryKeyPool()
    slow = _SlowKeyById(link.provider("hospital-b"))
    a_config, b_config = config_pair(link, b_provider=slow, record_size=1024)
    ta, tb = memory_transport_pair()
    gate = _Gate(ta)
    a, b = await open_pair(a_config, b_config, transports=(gate, tb))
    async with a, b:
        slow.slow = True
        gate.held = []
        await a.send_otp(b"diagnosis")
        burst = [os.urandom(3000) for _ in range(20)] + [os.urandom(300_000)]
        for message in burst:
            await a.send(message)  # the last, above the cork limit, flushes all into the gate
        await gate.release()
        later = os.urandom(2_000_000)
        await a.send(later)
        async with asyncio.timeout(10):
            received = [await b.recv() for _ in range(len(burst) + 2)]
        assert received == [b"diagnosis", *burst, later]
        assert b.stats.otp_key_bytes == 64
