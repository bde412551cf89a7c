"""Helpers for mesh tests: free ports, channel configs keyed by an in-memory QKD link, and a
TCP proxy that can reset its connections."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
import struct
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from qkdlink.channel import ChannelConfig
from qkdlink.keyprovider import InMemoryKeyPool


def free_ports(n: int, *, spacing: int = 1) -> list[int]:
    """`n` base ports, each with the `spacing - 1` ports above it, all bindable right now.

    Ports are drawn below the kernel's ephemeral range (32768-60999 on Linux), so that outgoing
    connections of other tests cannot take a port of a span between this check and the bind.
    """
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        base = rng.randrange(20000, 32000 - spacing)
        span = range(base, base + spacing)
        if any(abs(base - p) < spacing for p in ports) or not all(_bindable(q) for q in span):
            continue
        ports.append(base)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def channel_configs(
    parties: Sequence[str], qkd: InMemoryKeyPool, *, mode: str = "qkd+x25519"
) -> dict[str, Callable[[str], ChannelConfig]]:
    """Per party: peer -> its ChannelConfig (static keys made here, QKD keys from `qkd`)."""
    private = {p: X25519PrivateKey.generate() for p in parties}
    public = {p: k.public_key().public_bytes_raw() for p, k in private.items()}

    def factory(me: str) -> Callable[[str], ChannelConfig]:
        def config(peer: str) -> ChannelConfig:
            return ChannelConfig(
                local_id=me,
                peer_id=peer,
                static_private_key=private[me].private_bytes_raw(),
                peer_static_public_key=public[peer],
                key_provider=qkd.provider(me),
                mode=mode,
            )

        return config

    return {p: factory(p) for p in parties}


class ResettingProxy:
    """TCP forwarders from `listen_base + r` to `target_base + r` (r in `ranks`) that can reset
    every connection at once, as a crashed host or a cut network does (RST, no goodbye)."""

    def __init__(self, host: str, listen_base: int, target_base: int, ranks: range) -> None:
        self._host = host
        self._listen = listen_base
        self._target = target_base
        self._ranks = ranks
        self._servers: list[asyncio.Server] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._pumps: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ResettingProxy:
        for r in self._ranks:
            server = await asyncio.start_server(
                functools.partial(self._forward, self._target + r), self._host, self._listen + r
            )
            self._servers.append(server)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reset()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _forward(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._host, port)
        self._writers += [writer, up_writer]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.get_running_loop().create_task(self._pump(src, dst))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(1 << 16):
                dst.write(data)
                await dst.drain()

    def reset(self) -> None:
        """Abort every forwarded connection with a TCP RST (SO_LINGER 0), both sides."""
        for writer in self._writers:
            sock = writer.get_extra_info("socket")
            if sock is not None and sock.fileno() >= 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._writers.clear()
