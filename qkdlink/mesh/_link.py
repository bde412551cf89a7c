"""Pairwise message links the mesh runs over, and the transports that make them.

A `MessageLink` is an ordered, reliable, message-preserving pipe to one peer: a qkdlink
`Channel` is one (quantum-keyed, authenticated, encrypted). `MemoryTransport` (tests) and
`PlaintextTcpTransport` (length-framed TCP, NOT encrypted: tests and the benchmark baseline
only, so deliberately not exported from `qkdlink.mesh`) are the others. A `MeshTransport`
listens for lower-ranked peers and dials higher-ranked ones, as MPyC does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, cast

from qkdlink.errors import BrokenChannelError, ConfigurationError, TransportError

__all__ = [
    "LinkHandler",
    "MemoryNetwork",
    "MemoryTransport",
    "MeshTransport",
    "MessageLink",
    "PlaintextTcpLink",
    "PlaintextTcpTransport",
]

_LEN_BYTES = 8
_CLOSE_TIMEOUT_S = 1.0
MAX_LINK_MESSAGE = 1 << 31
"""Largest single link message a TCP link accepts (an oversize prefix is a broken peer)."""


class MessageLink(Protocol):
    """An ordered, reliable, message-preserving pipe to one peer.

    A link that authenticates its peer (a qkdlink `Channel`) also has a `peer_id` attribute;
    the mesh then accepts only a hello from that very party.
    """

    async def send(self, data: bytes | memoryview) -> None:
        """Send one message.

        Raises:
            BrokenChannelError: the peer or network broke the link.
        """
        ...

    async def recv(self) -> bytes:
        """Receive the next message.

        Raises:
            BrokenChannelError: the peer closed or broke the link.
        """
        ...

    async def aclose(self) -> None:
        """Close the link (idempotent)."""
        ...


LinkHandler = Callable[[MessageLink], Coroutine[Any, Any, None]]
"""Called by a listening transport with each accepted link."""


class MeshTransport(Protocol):
    """How one party accepts links from peers and dials peers."""

    async def listen(self, handler: LinkHandler) -> None:
        """Start accepting links; each is handed to `handler`."""
        ...

    async def dial(self, peer: str) -> MessageLink:
        """Open a link to `peer` (one attempt; the mesh retries).

        Raises:
            TransportError: the peer is not reachable (yet).
        """
        ...

    async def aclose(self) -> None:
        """Stop listening."""
        ...


# --- in memory -----------------------------------------------------------------------------------


class _MemoryLink:
    _EOF = object()

    def __init__(self, inbox: asyncio.Queue[object], outbox: asyncio.Queue[object]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False

    async def send(self, data: bytes | memoryview) -> None:
        if self._closed:
            raise BrokenChannelError("link closed")
        self._outbox.put_nowait(bytes(data))

    async def recv(self) -> bytes:
        item = await self._inbox.get()
        if item is self._EOF:
            self._inbox.put_nowait(item)
            raise BrokenChannelError("peer closed the link")
        return cast(bytes, item)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(self._EOF)
            self._inbox.put_nowait(self._EOF)


class MemoryNetwork:
    """A registry of in-memory listeners (one event loop); transports are made per party."""

    def __init__(self) -> None:
        self.listeners: dict[str, LinkHandler] = {}
        self.links: list[_MemoryLink] = []

    def transport(self, party: str) -> MemoryTransport:
        """The transport `party` uses."""
        return MemoryTransport(self, party)

    async def sever(self) -> None:
        """Close every link (simulates a network failure in tests)."""
        for link in self.links:
            await link.aclose()


class MemoryTransport:
    """In-memory links between parties in one process."""

    def __init__(self, network: MemoryNetwork, party: str) -> None:
        self._network = network
        self._party = party

    async def listen(self, handler: LinkHandler) -> None:
        self._network.listeners[self._party] = handler

    async def dial(self, peer: str) -> MessageLink:
        handler = self._network.listeners.get(peer)
        if handler is None:
            raise TransportError(f"{peer!r} is not listening")
        a: asyncio.Queue[object] = asyncio.Queue()
        b: asyncio.Queue[object] = asyncio.Queue()
        mine, theirs = _MemoryLink(a, b), _MemoryLink(b, a)
        self._network.links += [mine, theirs]
        asyncio.get_running_loop().create_task(handler(theirs), name=f"accept-{peer}")
        return mine

    async def aclose(self) -> None:
        self._network.listeners.pop(self._party, None)


# --- plain TCP (unencrypted: tests and benchmark baseline) --------------------------------------


class PlaintextTcpLink:
    """Length-prefixed (u64 big-endian) messages over an asyncio stream. Not encrypted."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, data: bytes | memoryview) -> None:
        try:
            self._writer.write(len(data).to_bytes(_LEN_BYTES, "big"))
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise BrokenChannelError("TCP link broken") from exc

    async def recv(self) -> bytes:
        try:
            size = int.from_bytes(await self._reader.readexactly(_LEN_BYTES), "big")
            if size > MAX_LINK_MESSAGE:
                raise BrokenChannelError("oversize length prefix")
            return await self._reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise BrokenChannelError("peer closed the link") from exc

    async def aclose(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        try:
            # close() first flushes buffered data: a peer that stopped reading would hold us here
            # forever, so after a bounded wait the connection is reset instead.
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                with contextlib.suppress(ConnectionError, OSError):
                    await self._writer.wait_closed()
        except TimeoutError:
            self._writer.transport.abort()


class PlaintextTcpTransport:
    """Plain TCP links between parties on loopback; each party has a (host, port)."""

    def __init__(self, party: str, addresses: Mapping[str, tuple[str, int]]) -> None:
        if party not in addresses:
            raise ConfigurationError(f"no address for {party!r}")
        self._party = party
        self._addresses = dict(addresses)
        self._server: asyncio.Server | None = None

    async def listen(self, handler: LinkHandler) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await handler(PlaintextTcpLink(reader, writer))

        host, port = self._addresses[self._party]
        try:
            self._server = await asyncio.start_server(on_connect, host, port)
        except OSError as exc:
            raise TransportError(f"cannot listen on {host}:{port}") from exc

    async def dial(self, peer: str) -> MessageLink:
        host, port = self._addresses[peer]
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise TransportError(f"cannot reach {peer!r} at {host}:{port}") from exc
        return PlaintextTcpLink(reader, writer)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
