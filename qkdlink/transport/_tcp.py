"""TCP transport over an asyncio buffered protocol, and a listener that accepts them.

Received bytes go from the kernel straight into one fixed receive buffer (`recv_into`, through
`asyncio.BufferedProtocol`): `receive_view` lends them out without a copy, `receive` copies
them once into bytes. A StreamReader instead copies every byte three times (recv, buffer
append, read slice), which costs a fifth of a 10 MB exchange's receive path.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast

from qkdlink._aclose import AsyncClosing
from qkdlink.errors import BusyError, ChannelClosedError, TransportError

__all__ = ["TcpListener", "TcpTransport", "tcp_connect", "tcp_listen"]

_BUFFER_SIZE = 1 << 20
"""Receive buffer; reading pauses while it is full of unread bytes (back-pressure)."""
# Writes are handed to the kernel without waiting; we only wait (drain) above this much
# unsent data, which batches small messages into large socket writes.
_HIGH_WATER = 1 << 20
# close() first flushes buffered data; a peer that stopped reading would hold `aclose` (and so
# `Channel.aclose`) forever, so after this long the connection is reset instead.
_CLOSE_TIMEOUT_S = 1.0


class _TcpProtocol(asyncio.BufferedProtocol):
    """Receives into one fixed buffer and tracks write flow control for `TcpTransport`.

    Bytes ``[_start, _end)`` are received and not yet lent out; ``[0, _start)`` was lent by the
    last `take` and stays untouched until the next one. The buffer is never resized, so a view
    kept too long sees later bytes at worst, never freed memory.
    """

    def __init__(self, on_connected: asyncio.Queue[TcpTransport] | None = None) -> None:
        self._on_connected = on_connected
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray(_BUFFER_SIZE)
        self._start = 0
        self._end = 0
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._over_ssl = False
        self._reading_paused = False
        self._writing_paused = False
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed = asyncio.get_running_loop().create_future()

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream transport, TLS or not
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        self.transport.set_write_buffer_limits(high=_HIGH_WATER)
        if self._on_connected is not None:
            self._on_connected.put_nowait(TcpTransport(self))

    def get_buffer(self, sizehint: int) -> memoryview:
        # Never empty: reading is paused as soon as the buffer is full (`buffer_updated`).
        return memoryview(self._buffer)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        if self._end == len(self._buffer) and self.transport is not None:
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        # Keep our sending side open after the peer's EOF (half-close), as StreamReaderProtocol
        # does; TLS cannot half-close.
        return not self._over_ssl

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._eof = True
        self._error = exc
        self._wake_reader()
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_reader(self) -> None:
        waiter, self._data_waiter = self._data_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ for TcpTransport

    async def take(self) -> memoryview:
        """The received bytes not lent out yet (empty at end of stream), waiting for some.

        Ends the previous loan: its bytes may be overwritten from now on.

        Raises:
            BusyError: another task is waiting already.
            OSError: the connection failed (even with bytes left unread, like StreamReader).
        """
        if self._data_waiter is not None:
            raise BusyError("another task is receiving on this transport")
        if self._start == self._end:
            self._start = self._end = 0
            if self._reading_paused and self.transport is not None:
                self._reading_paused = False
                self.transport.resume_reading()
        while True:
            if self._error is not None:
                raise self._error
            if self._start < self._end:
                view = memoryview(self._buffer)[self._start : self._end]
                self._start = self._end
                return view
            if self._eof:
                return memoryview(b"")
            self._data_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._data_waiter
            finally:
                self._data_waiter = None

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if self._error is not None:
            raise self._error
        if self._lost:
            raise ConnectionResetError("connection lost")
        if not self._writing_paused:
            return
        self._drain_waiter = asyncio.get_running_loop().create_future()
        await self._drain_waiter

    async def wait_closed(self) -> None:
        await self._closed


class TcpTransport:
    """A TCP connection as a `Transport`."""

    def __init__(self, protocol: _TcpProtocol) -> None:
        if protocol.transport is None:
            raise ValueError("the protocol is not connected")
        self._protocol = protocol
        self._transport: asyncio.Transport = protocol.transport
        self._closed = False

    @property
    def peername(self) -> object:
        return self._transport.get_extra_info("peername")

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if self._closed:
            raise ChannelClosedError("transport closed")
        if self._transport.is_closing():
            raise TransportError("connection lost")
        try:
            self._transport.write(frame)
            if self._transport.get_write_buffer_size() > _HIGH_WATER:
                await self._protocol.drain()
        except (ConnectionError, OSError) as exc:
            raise TransportError("connection lost while sending") from exc

    async def receive(self) -> bytes:
        return bytes(await self.receive_view())

    async def receive_view(self) -> memoryview:
        """As `receive`, but lends the bytes without copying them: valid until the next call.

        Raises:
            ChannelClosedError: `aclose` was called on this side.
            TransportError: the connection failed.
            BusyError: another task is receiving.
        """
        if self._closed:
            raise ChannelClosedError("transport closed")
        try:
            return await self._protocol.take()
        except (ConnectionError, OSError) as exc:
            raise TransportError("connection lost while receiving") from exc

    async def aclose(self) -> None:
        """Close, flushing unsent data for at most `_CLOSE_TIMEOUT_S`, then reset."""
        if self._closed:
            return
        self._closed = True
        self._transport.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await self._protocol.wait_closed()
        except TimeoutError:
            self._transport.abort()  # unsent data is dropped: the peer stopped reading


async def tcp_connect(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> TcpTransport:
    """Connect to a `TcpListener`.

    Raises:
        TransportError: the connection could not be made.
    """
    try:
        _, protocol = await asyncio.get_running_loop().create_connection(
            _TcpProtocol, host, port, ssl=ssl_context
        )
    except OSError as exc:
        raise TransportError(f"cannot connect to {host}:{port}") from exc
    return TcpTransport(protocol)


class TcpListener(AsyncClosing):
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


async def tcp_listen(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> TcpListener:
    """Listen on host:port (port 0 picks a free one).

    Raises:
        TransportError: the address cannot be bound.
    """
    listener = TcpListener()
    try:
        listener._server = await asyncio.get_running_loop().create_server(
            lambda: _TcpProtocol(listener._accepted), host, port, ssl=ssl_context
        )
    except OSError as exc:
        raise TransportError(f"cannot listen on {host}:{port}") from exc
    return listener
