"""TCP forwarding through the mesh: a client's bytes reach the peer's local server and back."""

from __future__ import annotations

import asyncio

from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig, TunnelConfig, run_tunnel

from ._helpers import free_ports


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
    a_port, b_port = free_ports(2)
    configs = {
        "a": TunnelConfig({"b": ("127.0.0.1", a_port)}, ("127.0.0.1", 1), streams_per_peer=1),
        "b": TunnelConfig(
            {"a": ("127.0.0.1", b_port)}, ("127.0.0.1", target_port), streams_per_peer=1
        ),
    }

    async def tunnel(p: str) -> None:
        async with Mesh(MeshConfig(p, parties), net.transport(p)) as mesh:
            await run_tunnel(mesh, configs[p])

    async def client() -> bytes:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", a_port)
                break
            except OSError:
                await asyncio.sleep(0.05)
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
