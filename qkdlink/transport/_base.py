"""The `Transport` interface: a reliable, ordered carrier of opaque byte frames between two nodes.

The channel's record layer has its own framing, so a transport need not keep frame boundaries
(TCP does not); it must deliver the bytes in order, each once, or fail loudly. Error semantics
follow trio's streams (`trio/_abc.py`): `ChannelClosedError` after our own `aclose`, and
`TransportError` (with `__cause__`) when the network or the peer broke the transport.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """A bidirectional byte-frame transport; one task may send while another receives."""

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        """Queue `frame` for the peer, waiting while the transport's buffers are full.

        Raises:
            ChannelClosedError: `aclose` was called on this side.
            TransportError: the connection failed.
        """
        ...

    async def receive(self) -> bytes:
        """The next bytes from the peer; ``b""`` once the peer closed its side (end of stream).

        Raises:
            ChannelClosedError: `aclose` was called on this side.
            TransportError: the connection failed.
        """
        ...

    async def aclose(self) -> None:
        """Close both directions; idempotent. The peer's `receive` then returns ``b""``."""
        ...
