"""TCP port forwarding over a mesh: unmodified programs (MPyC) talk through quantum-keyed links.

Each party's tunnel listens on one local port per peer. A local program that connects to the
port for peer P gets a stream that P's tunnel opens to P's local target (host, port): the bytes
travel as mesh messages over the P link. Streams are numbered per (origin, peer); every chunk
carries a one-byte type: O (open), D (data), E (end of this direction). Tags are
`tun/<origin>/<n>/<direction>/<k>`, so any number of concurrent streams never mix. A local
socket reset ends only its own stream (as an E), never the tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from qkdlink.errors import (
    ConfigurationError,
    PartyDisconnectedError,
    QkdlinkError,
    RemoteProtocolError,
    TransportError,
)
from qkdlink.mesh._mesh import Mesh

__all__ = ["TunnelConfig", "run_tunnel"]

_OPEN, _DATA, _END = b"O", b"D", b"E"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class TunnelConfig:
    """What one party's tunnel forwards."""

    listen: Mapping[str, tuple[str, int]]
    """Per peer: the local (host, port) a program connects to in order to reach that peer."""
    target: tuple[str, int]
    """Where streams opened by peers are delivered (e.g. this party's MPyC listener)."""
    streams_per_peer: int | None = None
    """Stop after this many streams with every peer have ended (None: run until cancelled)."""
    target_timeout: float = 60.0
    """Seconds to keep retrying the local target (the program may start after the tunnel)."""
    listen_ports: dict[str, int] = field(default_factory=dict, compare=False)
    """Filled in with the ports actually bound (useful with port 0)."""

    def __post_init__(self) -> None:
        if self.streams_per_peer is not None and self.streams_per_peer < 1:
            raise ConfigurationError("streams_per_peer must be positive")
        if self.target_timeout <= 0:
            raise ConfigurationError("target_timeout must be positive")


async def _pump_out(
    mesh: Mesh, peer: str, prefix: str, reader: asyncio.StreamReader, start: int = 0
) -> None:
    """Local socket -> mesh messages under prefix/start, prefix/start+1, ..."""
    for k in itertools.count(start):
        try:
            chunk = await reader.read(_CHUNK)
        except ConnectionError:
            chunk = b""
        if not chunk:
            await mesh.send(peer, f"{prefix}/{k}", _END)
            return
        await mesh.send(peer, f"{prefix}/{k}", _DATA + chunk)


async def _pump_in(
    mesh: Mesh, peer: str, prefix: str, writer: asyncio.StreamWriter, start: int = 0
) -> None:
    """Mesh messages under prefix/start, ... -> local socket, until E (then half-close).

    A local socket that fails (the program reset it) ends this connection as a reset ends a TCP
    connection: it is aborted (so the other direction ends with E) and the peer's remaining
    chunks are received and dropped until its E, so none is left unclaimed on the mesh.
    """
    local_open = True
    for k in itertools.count(start):
        message = await mesh.recv(peer, f"{prefix}/{k}", patient=True)
        kind = message[:1]
        if kind == _END:
            if local_open:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
            return
        if kind != _DATA:
            # Only D and E follow an open: anything else is never guessed to be data.
            raise RemoteProtocolError(f"party {peer!r} sent a tunnel chunk of unknown type")
        if not local_open:
            continue
        try:
            writer.write(memoryview(message)[1:])
            await writer.drain()
        except OSError:
            writer.transport.abort()
            local_open = False


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


async def _serve_origin(
    mesh: Mesh,
    peer: str,
    n: int,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    base = f"tun/{mesh.party}/{n}"
    try:
        await mesh.send(peer, f"{base}/fwd/0", _OPEN)
        await asyncio.gather(
            _pump_out(mesh, peer, f"{base}/fwd", reader, start=1),
            _pump_in(mesh, peer, f"{base}/rev", writer),
        )
    finally:
        await _close(writer)


async def _connect_target(
    config: TunnelConfig,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    deadline = time.monotonic() + config.target_timeout
    while True:
        try:
            return await asyncio.open_connection(*config.target)
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TransportError(f"local target {config.target} unreachable") from exc
            await asyncio.sleep(0.05)


async def _serve_target(mesh: Mesh, origin: str, n: int, config: TunnelConfig) -> None:
    base = f"tun/{origin}/{n}"
    try:
        reader, writer = await _connect_target(config)
    except TransportError:
        await mesh.send(origin, f"{base}/rev/0", _END)
        raise
    try:
        await asyncio.gather(
            _pump_in(mesh, origin, f"{base}/fwd", writer, start=1),
            _pump_out(mesh, origin, f"{base}/rev", reader),
        )
    finally:
        await _close(writer)


async def run_tunnel(
    mesh: Mesh,
    config: TunnelConfig,
    *,
    on_listening: Callable[[dict[str, int]], object] | None = None,
) -> None:
    """Forward streams until cancelled, or until `streams_per_peer` streams per peer ended.

    `on_listening(ports)` is called once every local port is bound (peer -> port).

    Raises:
        PartyDisconnectedError: a peer's link broke while a stream was open.
        RemoteProtocolError: a peer sent a stream message that is not an open, data or end.
        TransportError: a local port cannot be bound, or the local target never came up.
    """
    try:
        await _run(mesh, config, on_listening)
    except BaseExceptionGroup as group:
        # Surface the first typed error of the stream tasks rather than a group.
        typed = group.subgroup(QkdlinkError)
        if typed is not None:
            first: BaseException = typed
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from group
        raise


async def _run(
    mesh: Mesh,
    config: TunnelConfig,
    on_listening: Callable[[dict[str, int]], object] | None,
) -> None:
    missing = set(mesh.peers) - set(config.listen)
    if missing:
        raise ConfigurationError(f"no local listen address for {sorted(missing)}")
    done: dict[str, int] = dict.fromkeys(mesh.peers, 0)
    finished = asyncio.Event()
    limit = config.streams_per_peer
    counters = {p: itertools.count() for p in mesh.peers}
    servers: list[asyncio.Server] = []

    def _ended(peer: str, _task: object) -> None:
        done[peer] += 1
        if limit is not None and all(v >= limit for v in done.values()):
            finished.set()

    async with asyncio.TaskGroup() as tasks:

        def origin_handler(
            peer: str,
        ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                n = next(counters[peer])
                task = tasks.create_task(
                    _serve_origin(mesh, peer, n, reader, writer), name=f"tun-{peer}-{n}"
                )
                task.add_done_callback(functools.partial(_ended, peer))

            return handle

        try:
            for peer in mesh.peers:
                host, port = config.listen[peer]
                server = await asyncio.start_server(origin_handler(peer), host, port)
                servers.append(server)
                config.listen_ports[peer] = server.sockets[0].getsockname()[1]
        except OSError as exc:
            for server in servers:
                server.close()
            raise TransportError("cannot bind a tunnel port") from exc
        if on_listening is not None:
            on_listening(dict(config.listen_ports))

        async def accept_from(origin: str) -> None:
            for n in itertools.count():
                if limit is not None and n >= limit:
                    return
                try:
                    opening = await mesh.recv(origin, f"tun/{origin}/{n}/fwd/0", patient=True)
                except PartyDisconnectedError:
                    # The peer left: no new streams can come. Streams still open with it fail
                    # on their own if they were cut short; an idle peer leaving is no fault.
                    return
                if opening != _OPEN:
                    raise RemoteProtocolError(
                        f"party {origin!r} started a tunnel stream without an open marker"
                    )
                task = tasks.create_task(
                    _serve_target(mesh, origin, n, config), name=f"tun-in-{origin}-{n}"
                )
                task.add_done_callback(functools.partial(_ended, origin))

        acceptors = [tasks.create_task(accept_from(p), name=f"tun-accept-{p}") for p in mesh.peers]
        try:
            await finished.wait()
        finally:
            for server in servers:
                server.close()
            for acceptor in acceptors:
                acceptor.cancel()
