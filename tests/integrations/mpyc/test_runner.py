"""An MPyC secure mean across three parties (subprocesses) through quantum-keyed tunnels."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid

import pytest

from integrations.mpyc import MpycRunError, mpyc_party_argv, run_mpyc_party
from qkdlink.errors import ConfigurationError
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import ChannelMeshTransport, Mesh, MeshConfig, TcpBasePorts
from tests.qkdlink.mesh._helpers import channel_configs, free_ports

PARTIES = ("h0", "h1", "h2")
INPUTS = {"h0": (10.0, 4), "h1": (20.0, 4), "h2": (30.5, 2)}


@pytest.mark.slow
async def test_secure_mean_through_tunnels() -> None:
    qkd = InMemoryKeyPool()
    configs = channel_configs(PARTIES, qkd)
    ports = free_ports(3, spacing=4)
    net = TcpBasePorts({p: ("127.0.0.1", port) for p, port in zip(PARTIES, ports, strict=True)})
    mesh_id = f"mpyc-{uuid.uuid4().hex[:8]}"

    async def party(p: str) -> tuple[str, dict[str, int]]:
        transport = ChannelMeshTransport(p, PARTIES, configs[p], net, mesh_id=mesh_id)
        async with Mesh(MeshConfig(p, PARTIES, mesh_id=mesh_id), transport) as mesh:
            s, c = INPUTS[p]
            program = ["-m", "integrations.mpyc.secure_mean", "--sum", str(s), "--count", str(c)]
            out = await run_mpyc_party(mesh, program, time_limit=30)
            tunnelled = {q: st.bytes_sent for q, st in mesh.stats().items()}
            return out, tunnelled

    results = await asyncio.wait_for(asyncio.gather(*(party(p) for p in PARTIES)), 120)
    expected = (10.0 + 20.0 + 30.5) / 10
    for out, tunnelled in results:
        line = next(line for line in out.splitlines() if line.startswith("MEAN "))
        assert abs(float(line.split()[1]) - expected) < 1e-6
        assert all(n > 0 for n in tunnelled.values())  # MPyC's bytes went through the mesh
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
