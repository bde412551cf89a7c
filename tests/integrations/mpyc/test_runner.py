"""An MPyC secure mean across three parties (subprocesses) through quantum-keyed tunnels."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import uuid
from collections import Counter
from typing import Any

import pytest

from integrations.mpyc import MpycRunError, mpyc_party_argv, run_mpyc_party
from qkdlink.errors import ConfigurationError
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import ChannelMeshTransport, Mesh, MeshConfig, TcpBasePorts
from tests.qkdlink.mesh._helpers import channel_configs, free_ports

PARTIES = ("h0", "h1", "h2")
INPUTS = {"h0": (10.0, 4), "h1": (20.0, 4), "h2": (30.5, 2)}


class TallyingMesh(Mesh):
    """A mesh that tallies, per peer, the tunnelled program bytes it sends and receives: the
    payload of data chunks (type D) under `tun/` tags, not the open and end markers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tunnel_sent: Counter[str] = Counter()
        self.tunnel_received: Counter[str] = Counter()

    async def send(self, peer: str, tag: str, data: bytes | memoryview) -> None:
        await super().send(peer, tag, data)
        if tag.startswith("tun/") and bytes(data[:1]) == b"D":
            self.tunnel_sent[peer] += len(data) - 1

    async def recv(self, peer: str, tag: str, *, patient: bool = False) -> bytes:
        data = await super().recv(peer, tag, patient=patient)
        if tag.startswith("tun/") and data[:1] == b"D":
            self.tunnel_received[peer] += len(data) - 1
        return data


MPYC_HEADER = 12
"""Bytes of MPyC's header on every message (8-byte program counter, 4-byte length; see
mpyc/asyncoro.py `MessageExchanger.send`)."""
MPYC_MESSAGES_PER_LINK = 4
"""Messages each party must send each other one here: its shares of the two secret inputs and
of the two opened outputs (3 parties, Shamir with t = 1)."""


@pytest.mark.slow
async def test_secure_mean_through_tunnels() -> None:
    qkd = InMemoryKeyPool()
    configs = channel_configs(PARTIES, qkd)
    ports = free_ports(3, spacing=4)
    net = TcpBasePorts({p: ("127.0.0.1", port) for p, port in zip(PARTIES, ports, strict=True)})
    mesh_id = f"mpyc-{uuid.uuid4().hex[:8]}"

    async def party(p: str) -> tuple[str, TallyingMesh]:
        transport = ChannelMeshTransport(p, PARTIES, configs[p], net, mesh_id=mesh_id)
        async with TallyingMesh(MeshConfig(p, PARTIES, mesh_id=mesh_id), transport) as mesh:
            s, c = INPUTS[p]
            program = ["-m", "integrations.mpyc.secure_mean", "--sum", str(s), "--count", str(c)]
            return await run_mpyc_party(mesh, program, time_limit=30), mesh

    results = await asyncio.wait_for(asyncio.gather(*(party(p) for p in PARTIES)), 120)
    outputs = {p: out for p, (out, _) in zip(PARTIES, results, strict=True)}
    meshes = {p: mesh for p, (_, mesh) in zip(PARTIES, results, strict=True)}
    expected = (10.0 + 20.0 + 30.5) / 10
    for p, out in outputs.items():
        line = next(line for line in out.splitlines() if line.startswith("MEAN "))
        assert abs(float(line.split()[1]) - expected) < 1e-6
        # Every byte MPyC counts as sent (its own log line at shutdown) crossed the mesh.
        reported = re.search(r"bytes sent: (\d+)", out)
        assert reported is not None, out
        assert sum(meshes[p].tunnel_sent.values()) >= int(reported[1]) > 0
    for a, b in itertools.permutations(PARTIES, 2):
        sent = meshes[a].tunnel_sent[b]
        assert sent >= MPYC_MESSAGES_PER_LINK * MPYC_HEADER, (a, b, sent)
        assert sent == meshes[b].tunnel_received[a]  # and all of it reached the peer's program
    for a, b in itertools.combinations(PARTIES, 2):
        assert qkd.issued(a, b) == 1  # one quantum-keyed channel per pair


def test_party_argv() -> None:
    argv = mpyc_party_argv(1, [("127.0.0.1", 1), ("127.0.0.1", 2)])
    assert argv == ["-I", "1", "-P", "127.0.0.1:1", "-P", "127.0.0.1:2"]
    with pytest.raises(ConfigurationError):
        mpyc_party_argv(2, [("127.0.0.1", 1)])


async def test_failing_program_is_reported() -> None:
    from qkdlink.mesh import MemoryNetwork

    net = MemoryNetwork()

    async def party(p: str) -> None:
        async with Mesh(MeshConfig(p, ("a", "b")), net.transport(p)) as mesh:
            await run_mpyc_party(mesh, ["-c", "import sys; sys.exit(3)"], time_limit=30)

    results = await asyncio.wait_for(
        asyncio.gather(party("a"), party("b"), return_exceptions=True), 30
    )
    for result in results:
        assert isinstance(result, MpycRunError)
        assert "exited with 3" in str(result)


async def test_cancelled_run_kills_and_reaps_the_program() -> None:
    import psutil

    from qkdlink.mesh import MemoryNetwork

    marker = f"qkdlink-mpyc-orphan-{uuid.uuid4().hex}"
    net = MemoryNetwork()
    started = asyncio.Event()

    def ours() -> list[psutil.Process]:
        found = []
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if marker in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
        return found

    async def party(p: str) -> None:
        async with Mesh(MeshConfig(p, ("a", "b")), net.transport(p)) as mesh:
            if p == "b":
                await started.wait()
                return
            program = ["-c", f"import time; time.sleep(60)  # {marker}"]
            run = asyncio.create_task(run_mpyc_party(mesh, program, time_limit=60))
            for _ in range(200):
                if ours():
                    break
                await asyncio.sleep(0.05)
            started.set()
            run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await run

    try:
        await asyncio.wait_for(asyncio.gather(party("a"), party("b")), 30)
        assert ours() == []
    finally:
        for leftover in ours():
            leftover.kill()
