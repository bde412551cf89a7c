"""TCP forwarding through the mesh: a client's bytes reach the peer's local server and back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

import pytest

from qkdlink.errors import QkdlinkError, RemoteProtocolError
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig, TunnelConfig, run_tunnel

from ._helpers import free_ports


def _a_to_b_tunnels(target_port: int) -> tuple[int, dict[str, TunnelConfig]]:
    """a's local port and both tunnel configs: connections to a's port reach b's target."""
    a_port, b_port = free_ports(2)
    configs = {
        "a": TunnelConfig({"b": ("127.0.0.1", a_port)}, ("127.0.0.1", 1), streams_per_peer=1),
        "b": TunnelConfig(
            {"a": ("127.0.0.1", b_port)}, ("127.0.0.1", target_port), streams_per_peer=1
        ),
    }
    return a_port, configs


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a tunnel's local port, retrying while the tunnel starts listening."""
    for _ in range(100):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
    return await asyncio.open_connection("127.0.0.1", port)


async def test_tunnel_forwards_both_directions_and_ends() -> None:
    parties = ("a", "b")
    net = MemoryNetwork()
    received: list[bytes] = []

    async def echo_upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client half-closes
        received.append(data)
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo_upper, "127.0.0.1", 0)
    target_port = server.sockets[0].getsockname()[1]
    a_port, configs = _a_to_b_tunnels(target_port)

    async def tunnel(p: str) -> None:
        async with Mesh(MeshConfig(p, parties), net.transport(p)) as mesh:
            await run_tunnel(mesh, configs[p])

    async def client() -> bytes:
        reader, writer = await _connect(a_port)
        payload = b"secret share " * 200_000  # several chunks
        writer.write(payload)
        await writer.drain()
        writer.write_eof()
        answer = await reader.read()
        writer.close()
        return answer

    answer, *_ = await asyncio.wait_for(asyncio.gather(client(), tunnel("a"), tunnel("b")), 30)
    server.close()
    assert received == [b"secret share " * 200_000]
    assert answer == b"SECRET SHARE " * 200_000


async def _hostile_peer_against_tunnel(messages: list[tuple[str, bytes]]) -> BaseException:
    """Party "a" is a raw mesh that sends `messages`; party "b" runs a tunnel. Returns b's error."""
    parties = ("a", "b")
    net = MemoryNetwork()
    delivered: list[bytes] = []

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        delivered.append(await reader.read())
        writer.close()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    target = ("127.0.0.1", server.sockets[0].getsockname()[1])
    (b_port,) = free_ports(1)
    config = TunnelConfig({"a": ("127.0.0.1", b_port)}, target, streams_per_peer=1)

    async def hostile() -> None:
        async with Mesh(MeshConfig("a", parties), net.transport("a")) as mesh:
            for tag, data in messages:
                await mesh.send("b", tag, data)
            await asyncio.sleep(2)

    async def tunnel() -> None:
        async with Mesh(MeshConfig("b", parties), net.transport("b")) as mesh:
            await run_tunnel(mesh, config)

    attacker = asyncio.create_task(hostile())
    try:
        with pytest.raises(RemoteProtocolError) as info:
            await asyncio.wait_for(tunnel(), 10)
    finally:
        attacker.cancel()
        with contextlib.suppress(asyncio.CancelledError, QkdlinkError):
            await attacker
        server.close()
    assert delivered in ([], [b""])  # nothing of the bad chunk reached the local program
    return info.value


async def test_stream_without_open_marker_is_a_remote_error() -> None:
    error = await _hostile_peer_against_tunnel([("tun/a/0/fwd/0", b"X")])
    assert "'a'" in str(error)


async def test_chunk_of_unknown_type_is_a_remote_error_not_data() -> None:
    error = await _hostile_peer_against_tunnel(
        [("tun/a/0/fwd/0", b"O"), ("tun/a/0/fwd/1", b"Xinjected bytes")]
    )
    assert "'a'" in str(error)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a local socket abruptly: RST (SO_LINGER 0), no FIN, unread data dropped."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@pytest.mark.parametrize("who", ["target", "client"])
async def test_local_socket_reset_ends_only_that_stream(who: str) -> None:
    """A local program that resets its connection ends the tunnelled stream: both tunnels finish
    their streams normally (no untyped ConnectionResetError), the peer's data is drained."""
    parties = ("a", "b")
    net = MemoryNetwork()
    flood = b"x" * (4 << 20)  # more than the sockets buffer: writes into the reset socket fail

    async def target(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if who == "target":
            _reset(writer)
            return
        writer.write(flood)  # towards the client, which resets
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(target, "127.0.0.1", 0)
    target_port = server.sockets[0].getsockname()[1]
    a_port, configs = _a_to_b_tunnels(target_port)

    async def tunnel(p: str) -> None:
        async with Mesh(MeshConfig(p, parties), net.transport(p)) as mesh:
            await run_tunnel(mesh, configs[p])

    async def client() -> None:
        reader, writer = await _connect(a_port)
        if who == "client":
            await reader.readexactly(1)  # the target's flood has started
            _reset(writer)
            return
        with contextlib.suppress(OSError):
            writer.write(flood)
            await writer.drain()
            await reader.read()
        writer.close()

    try:
        await asyncio.wait_for(asyncio.gather(client(), tunnel("a"), tunnel("b")), 20)
    finally:
        server.close()
