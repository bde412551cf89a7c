"""One conformance suite for every transport (in the manner of trio's `_check_streams.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from qkdlink.errors import ChannelClosedError
from qkdlink.transport import (
    MqttTransport,
    MqttTransportConfig,
    Transport,
    memory_transport_pair,
    tcp_connect,
    tcp_listen,
)
from tests.qkdlink.transport._broker import Broker

PairFactory = Callable[[], AbstractAsyncContextManager[tuple[Transport, Transport]]]


@asynccontextmanager
async def memory_pair() -> AsyncIterator[tuple[Transport, Transport]]:
    a, b = memory_transport_pair(max_buffered=256 * 1024)
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


@asynccontextmanager
async def tcp_pair() -> AsyncIterator[tuple[Transport, Transport]]:
    async with await tcp_listen("127.0.0.1", 0) as listener:
        a = await tcp_connect("127.0.0.1", listener.port)
        b = await listener.accept()
        try:
            yield a, b
        finally:
            await a.aclose()
            await b.aclose()


def mqtt_pair_factory(broker: Broker) -> PairFactory:
    @asynccontextmanager
    async def mqtt_pair() -> AsyncIterator[tuple[Transport, Transport]]:
        tag = os.urandom(3).hex()
        ca = MqttTransportConfig(local_id=f"a{tag}", peer_id=f"b{tag}", port=broker.port)
        cb = MqttTransportConfig(local_id=f"b{tag}", peer_id=f"a{tag}", port=broker.port)
        async with MqttTransport(ca) as a, MqttTransport(cb) as b:
            yield a, b

    return mqtt_pair


@pytest.fixture(params=["memory", "tcp", pytest.param("mqtt", marks=pytest.mark.network)])
def make_pair(request: pytest.FixtureRequest) -> PairFactory:
    if request.param == "memory":
        return memory_pair
    if request.param == "tcp":
        return tcp_pair
    broker: Broker = request.getfixturevalue("broker")
    return mqtt_pair_factory(broker)


async def read_exactly(t: Transport, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = await t.receive()
        assert chunk, "unexpected end of stream"
        out += chunk
    assert len(out) == n
    return bytes(out)


def payloads(count: int, seed: int) -> list[bytes]:
    rng = __import__("random").Random(seed)
    return [rng.randbytes(rng.choice([1, 17, 1000, 40_000])) for _ in range(count)]


async def test_bytes_flow_both_ways_in_order(make_pair: PairFactory) -> None:
    async with make_pair() as (a, b):
        ab, ba = payloads(60, 1), payloads(60, 2)

        async def pump(t: Transport, frames: list[bytes]) -> None:
            for f in frames:
                await t.send(f)

        async with asyncio.timeout(30):
            results = await asyncio.gather(
                pump(a, ab),
                pump(b, ba),
                read_exactly(b, sum(map(len, ab))),
                read_exactly(a, sum(map(len, ba))),
            )
        assert results[2] == b"".join(ab)
        assert results[3] == b"".join(ba)


async def test_large_transfer_with_backpressure(make_pair: PairFactory) -> None:
    blob = os.urandom(4 << 20)
    async with make_pair() as (a, b):

        async def pump() -> None:
            view = memoryview(blob)
            for i in range(0, len(blob), 64 * 1024):
                await a.send(view[i : i + 64 * 1024])

        async with asyncio.timeout(60):
            _, got = await asyncio.gather(pump(), read_exactly(b, len(blob)))
        assert got == blob


async def test_close_delivers_pending_data_then_end_of_stream(make_pair: PairFactory) -> None:
    async with make_pair() as (a, b):
        await a.send(b"last words")
        await a.aclose()
        async with asyncio.timeout(15):
            assert await read_exactly(b, 10) == b"last words"
            assert await b.receive() == b""
            assert await b.receive() == b""  # end of stream stays visible


async def test_use_after_aclose_raises_closed_and_aclose_is_idempotent(
    make_pair: PairFactory,
) -> None:
    async with make_pair() as (a, _):
        await a.aclose()
        await a.aclose()
        with pytest.raises(ChannelClosedError):
            await a.send(b"x")
        with pytest.raises(ChannelClosedError):
            await a.receive()


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("how", ["restart", "kill"])
async def test_mqtt_survives_a_broker_restart_without_loss_or_duplication(
    broker: Broker, how: str
) -> None:
    """Stop (or SIGKILL) the broker mid-stream and start it again on the same port."""
    frames = [f"frame-{i:05d};".encode() for i in range(400)]
    total = sum(map(len, frames))
    factory = mqtt_pair_factory(broker)
    async with factory() as (a, b):

        async def pump() -> None:
            for i, f in enumerate(frames):
                await a.send(f)
                if i == 150:
                    await asyncio.to_thread(broker.kill if how == "kill" else broker.stop)
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(broker.start)

        async with asyncio.timeout(60):
            _, got = await asyncio.gather(pump(), read_exactly(b, total))
        assert got == b"".join(frames)
        assert isinstance(a, MqttTransport)
        assert a.reconnects >= 1


@pytest.mark.network
async def test_broker_sees_only_ciphertext(broker: Broker) -> None:
    """A subscriber on '#' captures everything the broker relays; no plaintext is in it."""
    import aiomqtt
    import numpy as np

    from qkdlink.channel import connect, serve
    from tests.qkdlink.channel._helpers import config_pair

    secret = b"PATIENT-4711 diagnosis: stage II carcinoma"
    array = np.frombuffer(secret * 100, dtype=np.uint8).copy()
    captured: list[tuple[str, bytes]] = []
    subscribed = asyncio.Event()

    async def sniff() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe("#", qos=1)
            subscribed.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                captured.append((str(message.topic), message.payload))

    sniffer = asyncio.create_task(sniff())
    await subscribed.wait()
    a_config, b_config = config_pair()
    ta = MqttTransportConfig(local_id="hospital-a", peer_id="hospital-b", port=broker.port)
    tb = MqttTransportConfig(local_id="hospital-b", peer_id="hospital-a", port=broker.port)
    async with asyncio.timeout(30):
        a, b = await asyncio.gather(connect(a_config, ta), serve(b_config, tb))
        async with a, b:
            await a.send(secret)
            await a.send(secret * 2000)  # fragmented
            await a.send_array(array)
            await a.send_otp(secret)
            await b.send(secret)
            assert await b.recv() == secret
            assert await b.recv() == secret * 2000
            np.testing.assert_array_equal(await b.recv_array(), array)
            assert await b.recv() == secret
            assert await a.recv() == secret
        await asyncio.sleep(0.3)
    sniffer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sniffer
    topics = {topic for topic, _ in captured}
    assert topics <= {"qkdlink/v1/hospital-a/hospital-b", "qkdlink/v1/hospital-b/hospital-a"}
    assert len(captured) >= 5
    wire = b"".join(payload for _, payload in captured)
    assert len(wire) > len(secret) * 2000
    for needle in (secret, secret[:12], b"PATIENT", b"carcinoma"):
        assert needle not in wire
