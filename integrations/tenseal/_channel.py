"""The message pipes a TenSEAL transfer runs over: a qkdlink `Channel`, or one mesh peer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qkdlink.mesh import Mesh

__all__ = ["ByteChannel", "MeshPeerChannel"]


class ByteChannel(Protocol):
    """Anything that sends and receives whole messages in order (a qkdlink `Channel` is one).

    Optional attributes: `peer_id` names the peer in timeout errors; `recv_timeout` (seconds)
    says that `recv` is already time-bounded, so a transfer adds no bound of its own by default.
    """

    async def send(self, data: bytes | memoryview) -> None:
        """Send one message."""
        ...

    async def recv(self) -> bytes:
        """Receive the next message."""
        ...


class MeshPeerChannel:
    """A `ByteChannel` to one mesh peer: messages go under `prefix/0`, `prefix/1`, ...

    Receives are bounded by the mesh's `recv_timeout` (a silent peer raises
    `PartyDisconnectedError`), sends by its `send_timeout`.
    """

    def __init__(self, mesh: Mesh, peer: str, prefix: str) -> None:
        self._mesh = mesh
        self._peer = peer
        self._prefix = prefix
        self._sent = 0
        self._received = 0

    @property
    def peer_id(self) -> str:
        return self._peer

    @property
    def recv_timeout(self) -> float:
        """The mesh's bound on each receive."""
        return self._mesh.config.recv_timeout

    async def send(self, data: bytes | memoryview) -> None:
        tag = f"{self._prefix}/{self._sent}"
        self._sent += 1
        await self._mesh.send(self._peer, tag, data)

    async def recv(self) -> bytes:
        tag = f"{self._prefix}/{self._received}"
        self._received += 1
        return await self._mesh.recv(self._peer, tag)
