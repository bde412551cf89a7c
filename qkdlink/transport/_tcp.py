"""TCP transport over asyncio streams, and a listener that accepts them."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from types import TracebackType
from typing import Self

from qkdlink.errors import ChannelClosedError, TransportError

__all__ = ["TcpListener", "TcpTransport", "tcp_connect", "tcp_listen"]

_READ_SIZE = 256 * 1024
# Writes are handed to the kernel without waiting; we only wait (drain) above this much
# unsent data, which batches small messages into large socket writes.
_HIGH_WATER = 1 << 20
# close() first flushes buffered data; a peer that stopped reading would hold `aclose` (and so
# `Channel.aclose`) forever, so after this long the connection is reset instead.
_CLOSE_TIMEOUT_S = 1.0


class TcpTransport:
    """A TCP connection as a `Transport`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._writer.transport.set_write_buffer_limits(high=_HIGH_WATER)
        self._closed = False

    @property
    def peername(self) -> object:
        return self._writer.get_extra_info("peername")

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ChannelClosedError("transport closed")
        if self._writer.is_closing():
            raise TransportError("connection lost")
        try:
            self._writer.write(frame)
            if self._writer.transport.get_write_buffer_size() > _HIGH_WATER:
                await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise TransportError("connection lost while sending") from exc

    async def receive(self) -> bytes:
        if self._closed:
            raise ChannelClosedError("transport closed")
        try:
            return await self._reader.read(_READ_SIZE)
        except (ConnectionError, OSError) as exc:
            raise TransportError("connection lost while receiving") from exc

    async def aclose(self) -> None:
        """Close, flushing unsent data for at most `_CLOSE_TIMEOUT_S`, then reset."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                with contextlib.suppress(ConnectionError, OSError):  # reset by the peer: closed
                    await self._writer.wait_closed()
        except TimeoutError:
            self._writer.transport.abort()  # unsent data is dropped: the peer stopped reading


async def tcp_connect(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> TcpTransport:
    """Connect to a `TcpListener`.

    Raises:
        TransportError: the connection could not be made.
    """
    try:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl_context, limit=_READ_SIZE
        )
    except OSError as exc:
        raise TransportError(f"cannot connect to {host}:{port}") from exc
    return TcpTransport(reader, writer)


class TcpListener:
    """Accepts TCP connections; `async with` closes the listening socket."""

    def __init__(self) -> None:
        self._accepted: asyncio.Queue[TcpTransport] = asyncio.Queue()
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if self._server is None:
            raise ChannelClosedError("listener closed")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._accepted.put(TcpTransport(reader, writer))

    async def accept(self) -> TcpTransport:
        """The next incoming connection."""
        if self._server is None:
            raise ChannelClosedError("listener closed")
        return await self._accepted.get()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        while not self._accepted.empty():
            await self._accepted.get_nowait().aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def tcp_listen(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> TcpListener:
    """Listen on host:port (port 0 picks a free one).

    Raises:
        TransportError: the address cannot be bound.
    """
    listener = TcpListener()
    try:
        listener._server = await asyncio.start_server(
            listener._on_connection, host, port, ssl=ssl_context, limit=_READ_SIZE
        )
    except OSError as exc:
        raise TransportError(f"cannot listen on {host}:{port}") from exc
    return listener
