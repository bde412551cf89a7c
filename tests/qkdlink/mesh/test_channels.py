"""The mesh over qkdlink channels (quantum-keyed links) on TCP and through Mosquitto."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import numpy as np
import pytest

from qkdlink.channel import ChannelStats
from qkdlink.errors import PartyDisconnectedError
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import ChannelMeshTransport, Mesh, MeshConfig, MqttBroker, TcpBasePorts

from ._helpers import channel_configs, free_ports

PARTIES = ("a", "b", "c")


async def exchange(network_for: dict[str, TcpBasePorts | MqttBroker]) -> dict[str, object]:
    qkd = InMemoryKeyPool()
    configs = channel_configs(PARTIES, qkd)
    mesh_id = f"t-{uuid.uuid4().hex[:8]}"

    async def one(p: str) -> object:
        transport = ChannelMeshTransport(p, PARTIES, configs[p], network_for[p], mesh_id=mesh_id)
        cfg = MeshConfig(p, PARTIES, mesh_id=mesh_id, connect_timeout=20)
        async with Mesh(cfg, transport) as mesh:
            got = await mesh.gather_arrays("x", np.full(1000, PARTIES.index(p), dtype=np.int64))
            await mesh.barrier()
            return {"sum": int(sum(int(v[0]) for v in got.values())), "stats": mesh.stats()}

    results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), 60)
    for a, b in itertools.combinations(PARTIES, 2):
        assert qkd.issued(a, b) == 1  # one handshake key per pair
    return dict(zip(PARTIES, results, strict=True))


async def test_mesh_over_tcp_channels() -> None:
    ports = free_ports(3, spacing=4)
    net = TcpBasePorts({p: ("127.0.0.1", port) for p, port in zip(PARTIES, ports, strict=True)})
    results = await exchange(dict.fromkeys(PARTIES, net))
    for p in PARTIES:
        r = results[p]
        assert isinstance(r, dict)
        assert r["sum"] == 3
        link_stats = r["stats"]["b" if p != "b" else "a"].link_stats
        assert isinstance(link_stats, ChannelStats)
        assert link_stats.qkd_keys_consumed >= 1


@pytest.mark.network
async def test_mesh_over_mqtt_channels() -> None:
    broker = MqttBroker("127.0.0.1", 1883)
    results = await exchange(dict.fromkeys(PARTIES, broker))
    assert all(isinstance(r, dict) and r["sum"] == 3 for r in results.values())


async def test_party_leaving_a_channel_mesh_is_named() -> None:
    qkd = InMemoryKeyPool()
    configs = channel_configs(PARTIES, qkd)
    ports = free_ports(3, spacing=4)
    net = TcpBasePorts({p: ("127.0.0.1", port) for p, port in zip(PARTIES, ports, strict=True)})

    async def one(p: str) -> str:
        transport = ChannelMeshTransport(p, PARTIES, configs[p], net)
        async with Mesh(MeshConfig(p, PARTIES, recv_timeout=30), transport) as mesh:
            await mesh.barrier()
            if p == "c":
                return "left"  # c closes its channels mid-protocol
            with pytest.raises(PartyDisconnectedError) as info:
                await mesh.recv("c", "never-sent")
            return info.value.party

    results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), 60)
    assert results == ["c", "c", "left"]
