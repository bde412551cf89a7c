"""Mesh links that are qkdlink channels: quantum-keyed, authenticated, encrypted (TCP or MQTT).

Party p accepts the channel of each lower-ranked peer q and dials each higher-ranked one, as the
mesh does. Over TCP, p listens for q on `base_port[p] + rank(q)`; each channel is a Noise
handshake keyed by a fresh QKD key (see docs/channel.md). Over MQTT, the pair's topics are
`<prefix>/<mesh id>/<src>/<dst>` on one broker, so runs of different meshes never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qkdlink.channel import ChannelConfig, TcpEndpoint, connect, serve
from qkdlink.errors import ConfigurationError, HandshakeError, QkdlinkError, TransportError
from qkdlink.mesh._link import LinkHandler, MessageLink
from qkdlink.transport import MqttTransportConfig

__all__ = ["ChannelMeshTransport", "MqttBroker", "TcpBasePorts"]


@dataclass(frozen=True, slots=True)
class TcpBasePorts:
    """Channels over TCP: party p listens for the peer of rank r on (host[p], port[p] + r)."""

    addresses: Mapping[str, tuple[str, int]]
    """Per party: host and base port."""


@dataclass(frozen=True, slots=True)
class MqttBroker:
    """Channels through one MQTT broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "qkdlink/v1/mesh"


class ChannelMeshTransport:
    """A `MeshTransport` whose links are qkdlink `Channel`s."""

    def __init__(
        self,
        party: str,
        parties: Sequence[str],
        channel_config: Callable[[str], ChannelConfig],
        network: TcpBasePorts | MqttBroker,
        *,
        mesh_id: str = "qkdlink-mesh",
    ) -> None:
        """`channel_config(peer)` builds this party's `ChannelConfig` for the channel to `peer`."""
        if party not in parties:
            raise ConfigurationError(f"{party!r} is not one of the parties")
        if isinstance(network, TcpBasePorts) and set(network.addresses) != set(parties):
            raise ConfigurationError("every party needs a TCP address")
        self._party = party
        self._parties = tuple(parties)
        self._config = channel_config
        self._network = network
        self._mesh_id = mesh_id
        self._tasks: list[asyncio.Task[None]] = []

    def _spec(self, peer: str, *, listening: bool) -> TcpEndpoint | MqttTransportConfig:
        """Where the channel with `peer` runs (TCP: the listener's port for the dialer)."""
        network = self._network
        if isinstance(network, MqttBroker):
            return MqttTransportConfig(
                local_id=self._party,
                peer_id=peer,
                host=network.host,
                port=network.port,
                topic_prefix=f"{network.topic_prefix}/{self._mesh_id}",
            )
        listener, dialer = (self._party, peer) if listening else (peer, self._party)
        host, base = network.addresses[listener]
        return TcpEndpoint(host, base + self._parties.index(dialer))

    async def listen(self, handler: LinkHandler) -> None:
        rank = self._parties.index(self._party)
        for peer in self._parties[:rank]:
            task = asyncio.get_running_loop().create_task(
                self._accept(peer, handler), name=f"mesh-channel-accept-{peer}"
            )
            self._tasks.append(task)

    async def _accept(self, peer: str, handler: LinkHandler) -> None:
        spec = self._spec(peer, listening=True)
        while True:
            try:
                channel = await serve(self._config(peer), spec)
            except (HandshakeError, TransportError):
                # A failed or foreign handshake: listen again for the legitimate peer (the mesh's
                # connect timeout bounds the whole wait).
                await asyncio.sleep(0.05)
                continue
            await handler(channel)
            return

    async def dial(self, peer: str) -> MessageLink:
        spec = self._spec(peer, listening=False)
        try:
            return await connect(self._config(peer), spec)
        except TransportError:
            raise
        except HandshakeError as exc:
            if isinstance(exc.__cause__, TransportError | OSError):
                raise TransportError(f"channel to {peer!r} not up yet") from exc
            raise

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, QkdlinkError):
                await task
        self._tasks.clear()
