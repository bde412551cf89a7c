"""A channel through a private Mosquitto, across a broker restart: nothing lost or duplicated."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkdlink.channel import connect, serve
from qkdlink.transport import MqttTransportConfig
from tests.qkdlink.channel._helpers import config_pair
from tests.qkdlink.transport._broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.mark.network
@pytest.mark.slow
async def test_channel_survives_a_broker_restart(broker: Broker) -> None:
    a_config, b_config = config_pair(rekey_messages=100)  # rekeys happen across the restart too
    ta = MqttTransportConfig(local_id="hospital-a", peer_id="hospital-b", port=broker.port)
    tb = MqttTransportConfig(local_id="hospital-b", peer_id="hospital-a", port=broker.port)
    async with asyncio.timeout(60):
        a, b = await asyncio.gather(connect(a_config, ta), serve(b_config, tb))
        async with a, b:

            async def pump() -> None:
                for i in range(600):
                    await a.send(i.to_bytes(4, "big") * 64)
                    if i == 250:
                        await asyncio.to_thread(broker.kill)
                        await asyncio.sleep(0.3)
                        await asyncio.to_thread(broker.start)
                    if i % 20 == 0:
                        await asyncio.sleep(0.005)

            async def drain() -> list[int]:
                return [int.from_bytes((await b.recv())[:4], "big") for _ in range(600)]

            _, got = await asyncio.gather(pump(), drain())
            assert got == list(range(600))
            assert a.stats.rekeys >= 1
