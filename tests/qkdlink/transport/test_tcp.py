"""TCP transport specifics: closing never hangs on a peer that stopped reading."""

from __future__ import annotations

import asyncio

from qkdlink.transport import tcp_connect

_CHUNK = b"\x00" * (1 << 20)


async def test_aclose_returns_when_the_peer_stops_reading() -> None:
    """Unsent data and a stalled peer: `aclose` resets the connection after a bounded wait
    instead of waiting for a flush that never comes."""
    held: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # keep the connection open, read nothing

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = await tcp_connect("127.0.0.1", port)
        # Fill the kernel's buffers on both ends until data waits in the transport itself.
        for _ in range(512):
            try:
                async with asyncio.timeout(0.2):
                    await transport.send(_CHUNK)
            except TimeoutError:
                break  # send is blocked on drain: the peer reads nothing
        assert transport._writer.transport.get_write_buffer_size() > 0
        async with asyncio.timeout(10):  # hang guard only; aclose bounds itself at 1 s
            await transport.aclose()
        assert transport._writer.transport.is_closing()
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
