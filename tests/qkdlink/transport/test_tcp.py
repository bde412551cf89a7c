"""TCP transport specifics: bounded close, receive back-pressure, lent views, resets, TLS."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
from pathlib import Path

import pytest

from qkdlink.errors import TransportError
from qkdlink.pki import LabCA
from qkdlink.transport import TcpTransport, tcp_connect, tcp_listen
from qkdlink.transport import _tcp as tcp

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
        assert transport._transport.get_write_buffer_size() > 0
        async with asyncio.timeout(10):  # hang guard only; aclose bounds itself at 1 s
            await transport.aclose()
        assert transport._transport.is_closing()
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def _read_to_end(transport: TcpTransport) -> bytes:
    got = bytearray()
    while chunk := await transport.receive():
        got += chunk
    return bytes(got)


async def test_a_slow_reader_pauses_reading_at_the_receive_buffer() -> None:
    """Back-pressure: unread bytes stop at `_BUFFER_SIZE` (the kernel holds the rest, the
    sender waits), and reading resumes with every byte, in order, once the reader catches up."""
    blob = os.urandom(8 << 20)
    async with await tcp_listen("127.0.0.1", 0) as listener:
        a = await tcp_connect("127.0.0.1", listener.port)
        b = await listener.accept()
        try:
            paused = asyncio.Event()
            pause_reading = b._transport.pause_reading

            def pause_and_tell() -> None:
                pause_reading()
                paused.set()

            b._transport.pause_reading = pause_and_tell  # type: ignore[method-assign]
            pump = asyncio.create_task(a.send(blob))
            async with asyncio.timeout(10):
                await paused.wait()
            protocol = b._protocol
            assert protocol._end - protocol._start == tcp._BUFFER_SIZE
            assert not pump.done()  # the sender is held up too
            got = bytearray()
            async with asyncio.timeout(30):
                while len(got) < len(blob):
                    got += await b.receive_view()
                await pump
            assert got == blob
        finally:
            await a.aclose()
            await b.aclose()


async def test_receive_view_lends_the_bytes_and_receive_copies_them() -> None:
    async with await tcp_listen("127.0.0.1", 0) as listener:
        a = await tcp_connect("127.0.0.1", listener.port)
        b = await listener.accept()
        try:
            await a.send(b"lent")
            async with asyncio.timeout(10):
                view = await b.receive_view()
                assert isinstance(view, memoryview)
                assert bytes(view) == b"lent"
                await a.send(b"copied")
                got = await b.receive()
            assert isinstance(got, bytes)
            assert got == b"copied"
        finally:
            await a.aclose()
            await b.aclose()


async def test_a_reset_connection_is_a_transport_error() -> None:
    async with await tcp_listen("127.0.0.1", 0) as listener:
        a = await tcp_connect("127.0.0.1", listener.port)
        b = await listener.accept()
        try:
            # SO_LINGER 0: close() sends RST, so the peer sees ECONNRESET rather than EOF.
            sock = a._transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            a._transport.abort()
            async with asyncio.timeout(10):
                with pytest.raises(TransportError) as caught:
                    await _read_to_end(b)
            assert isinstance(caught.value.__cause__, ConnectionError)
        finally:
            await a.aclose()
            await b.aclose()


async def test_tls_round_trip_and_end_of_stream(tmp_path: Path) -> None:
    """The buffered protocol also runs under asyncio's TLS layer (`ssl_context`)."""
    ca = LabCA.create(tmp_path)
    kme = ca.issue_kme_cert("KME_a", tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(kme.cert, kme.key)
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    client_ctx.check_hostname = False  # the certificate names a KME, not 127.0.0.1
    blob = os.urandom(3 << 20)
    async with await tcp_listen("127.0.0.1", 0, ssl_context=server_ctx) as listener:
        a = await tcp_connect("127.0.0.1", listener.port, ssl_context=client_ctx)
        b = await listener.accept()
        try:
            async with asyncio.timeout(30):
                await a.send(blob)
                await a.aclose()
                got = await _read_to_end(b)
            assert got == blob
        finally:
            await a.aclose()
            await b.aclose()
