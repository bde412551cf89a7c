"""`mesh`: all-to-all exchange of 10 MB arrays among 3 parties on loopback, beside plain TCP.

All three parties run in one process and event loop for both sides of the comparison: the mesh
(tagged array messages over its pairwise links) and a bare asyncio TCP exchange of the same bytes
(length prefix + payload, `readexactly`). Rounds alternate between the two. The mesh is measured
twice: over quantum-keyed qkdlink channels (the real configuration: AES-256-GCM records, QKD key
per handshake; handshakes are outside the timing) and over plain TCP links (the mesh's own cost).
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time

from benchmarks._harness import BenchOptions, Record, compare

_PARTIES = ("a", "b", "c")


def _free_ports(n: int, spacing: int = 1) -> list[int]:
    """`n` ports free now, at least `spacing` apart (a channel mesh uses base + rank)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(abs(port - p) >= spacing for p in ports) and port + spacing < 65536:
            ports.append(port)
    return ports


async def _plain_tcp_pairs() -> dict[
    tuple[str, str], tuple[asyncio.StreamReader, asyncio.StreamWriter]
]:
    """One TCP connection per pair; returns (me, peer) -> my reader/writer on it."""
    ends: dict[tuple[str, str], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    servers = []
    for i, hi in enumerate(_PARTIES):
        for lo in _PARTIES[:i]:
            server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
            servers.append(server)
            port = server.sockets[0].getsockname()[1]
            ends[(lo, hi)] = await asyncio.open_connection("127.0.0.1", port)
            ends[(hi, lo)] = await accepted.get()
    for server in servers:
        server.close()
    return ends


def _transports(kind: str) -> dict[str, object]:
    """Per party: the mesh transport of the given kind ("tcp" plain, "channel" quantum-keyed)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from qkdlink.channel import ChannelConfig
    from qkdlink.keyprovider import InMemoryKeyPool
    from qkdlink.mesh import ChannelMeshTransport, TcpBasePorts
    from qkdlink.mesh._link import PlaintextTcpTransport

    if kind == "tcp":
        ports = _free_ports(3)
        addresses = {p: ("127.0.0.1", port) for p, port in zip(_PARTIES, ports, strict=True)}
        return {p: PlaintextTcpTransport(p, addresses) for p in _PARTIES}
    qkd = InMemoryKeyPool()
    private = {p: X25519PrivateKey.generate() for p in _PARTIES}

    def factory(me: str):  # type: ignore[no-untyped-def]
        def config(peer: str) -> ChannelConfig:
            return ChannelConfig(
                local_id=me,
                peer_id=peer,
                static_private_key=private[me].private_bytes_raw(),
                peer_static_public_key=private[peer].public_key().public_bytes_raw(),
                key_provider=qkd.provider(me),
            )

        return config

    # Each party listens on base + rank of each lower-ranked peer: keep the bases 3 apart.
    ports = _free_ports(3, spacing=3)
    bases = {p: ("127.0.0.1", port) for p, port in zip(_PARTIES, ports, strict=True)}
    return {p: ChannelMeshTransport(p, _PARTIES, factory(p), TcpBasePorts(bases)) for p in _PARTIES}


async def _bench(options: BenchOptions, kind: str) -> tuple[float, float, int]:
    import numpy as np

    from qkdlink.mesh import Mesh, MeshConfig

    size = 10_000_000
    rounds = 3 if options.quick else 11
    arrays = {p: np.full(size // 8, i, dtype=np.uint64) for i, p in enumerate(_PARTIES)}
    transports = _transports(kind)
    meshes = [Mesh(MeshConfig(p, _PARTIES), transports[p]) for p in _PARTIES]  # type: ignore[arg-type]
    await asyncio.gather(*(m.start() for m in meshes))
    plain = await _plain_tcp_pairs()

    async def mesh_round(k: int) -> None:
        async def one(mesh: Mesh) -> None:
            own = arrays[mesh.party]
            got = await mesh.gather_arrays(f"x/{k}", own)
            if int(got[mesh.peers[0]][0]) != _PARTIES.index(mesh.peers[0]):
                raise RuntimeError("wrong array received")

        await asyncio.gather(*(one(m) for m in meshes))

    async def plain_round() -> None:
        async def send(me: str, peer: str) -> None:
            payload = arrays[me].view(np.uint8).data
            writer = plain[(me, peer)][1]
            writer.write(len(payload).to_bytes(8, "big"))
            writer.write(payload)
            await writer.drain()

        async def recv(me: str, peer: str) -> None:
            reader = plain[(me, peer)][0]
            n = int.from_bytes(await reader.readexactly(8), "big")
            data = await reader.readexactly(n)
            np.frombuffer(data, dtype=np.uint64)

        pairs = [(me, peer) for me in _PARTIES for peer in _PARTIES if me != peer]
        await asyncio.gather(*(send(m, p) for m, p in pairs), *(recv(m, p) for m, p in pairs))

    mesh_t: list[float] = []
    plain_t: list[float] = []
    for k in range(rounds):
        t = time.perf_counter()
        await mesh_round(k)
        mesh_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        await plain_round()
        plain_t.append(time.perf_counter() - t)
    await asyncio.gather(*(m.aclose() for m in meshes))
    for _, writer in plain.values():
        writer.close()
    return statistics.median(mesh_t), statistics.median(plain_t), 6 * size


def bench_mesh(options: BenchOptions) -> list[Record]:
    records = []
    for kind, metric in (
        ("channel", "all_to_all_10MB_3_parties_quantum_keyed_channels"),
        ("tcp", "all_to_all_10MB_3_parties_plain_tcp_links"),
    ):
        mesh_s, plain_s, nbytes = asyncio.run(_bench(options, kind))
        mesh_gbps, plain_gbps = nbytes / mesh_s / 1e9, nbytes / plain_s / 1e9
        ratio = mesh_gbps / plain_gbps
        records.append(
            compare(
                "mesh",
                metric,
                mesh_gbps,
                "GB/s",
                baseline="plain asyncio TCP all-to-all, same run",
                baseline_value=plain_gbps,
                target="ratio >= 0.7",
                met=ratio >= 0.7,
            )
        )
    return records


BENCHMARKS = {"mesh": bench_mesh}
