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

from ._helpers import ResettingProxy, channel_configs, free_ports

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


BOUND_S = 5.0
"""Hang guard far below recv_timeout (30 s): a disconnect must be seen when the link breaks,
not when a receive times out (no timing is asserted beyond this bound)."""


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
                await asyncio.wait_for(mesh.recv("c", "never-sent"), BOUND_S)
            return info.value.party

    results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), 60)
    assert results == ["c", "c", "left"]


async def test_channel_reset_without_goodbye_names_the_party_promptly() -> None:
    qkd = InMemoryKeyPool()
    configs = channel_configs(PARTIES, qkd)
    a_port, b_port, real, seen = free_ports(4, spacing=4)
    # c listens on `real`; a and b dial it at `seen`, through the proxy
    c_rank = PARTIES.index("c")
    direct = {"a": ("127.0.0.1", a_port), "b": ("127.0.0.1", b_port)}
    nets = {
        "c": TcpBasePorts({**direct, "c": ("127.0.0.1", real)}),
        "a": TcpBasePorts({**direct, "c": ("127.0.0.1", seen)}),
        "b": TcpBasePorts({**direct, "c": ("127.0.0.1", seen)}),
    }
    waiting = 0
    cut = asyncio.Event()

    async def one(p: str, proxy: ResettingProxy) -> str:
        nonlocal waiting
        transport = ChannelMeshTransport(p, PARTIES, configs[p], nets[p])
        async with Mesh(MeshConfig(p, PARTIES, recv_timeout=30), transport) as mesh:
            await mesh.barrier()
            if p == "c":
                # c's links are reset under it: it hears of a and b too, then leaves.
                with pytest.raises(PartyDisconnectedError):
                    await asyncio.wait_for(mesh.recv("a", "never-sent"), BOUND_S)
                return "reset"
            pending = asyncio.create_task(mesh.recv("c", "never-sent"))
            await asyncio.sleep(0)  # the receive is waiting when the reset comes
            waiting += 1
            if waiting == 2:
                proxy.reset()  # RST on every connection of c: no close_notify, no FIN
                cut.set()
            await cut.wait()
            with pytest.raises(PartyDisconnectedError) as info:
                await asyncio.wait_for(pending, BOUND_S)
            other = "b" if p == "a" else "a"
            await mesh.send(other, "still", p.encode())  # the a-b link is unaffected
            assert await asyncio.wait_for(mesh.recv(other, "still"), BOUND_S) == other.encode()
            return info.value.party

    async with ResettingProxy("127.0.0.1", seen, real, range(c_rank)) as proxy:
        results = await asyncio.wait_for(asyncio.gather(*(one(p, proxy) for p in PARTIES)), 60)
    assert results == ["c", "c", "reset"]
