"""Send TenSEAL (CKKS) public contexts and ciphertexts over a qkdlink channel or mesh peer.

A serialized object travels as a header message (magic, kind, total length, chunk size) and then
fixed-size chunks, so a ~35 MB Galois-key context never needs one giant message and the receiver
reassembles into one preallocated buffer. Public contexts are serialized without the secret key,
always: the server scoring ciphertexts never holds it.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from qkdlink.errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from qkdlink.mesh import Mesh

__all__ = [
    "ByteChannel",
    "MeshPeerChannel",
    "recv_ckks_vector",
    "recv_context",
    "send_ckks_vector",
    "send_context",
]

_MAGIC = b"QKTS"
_HEADER = struct.Struct(">4sBQI")
DEFAULT_CHUNK = 1 << 20
MAX_BLOB = 1 << 30
"""Largest object accepted from a peer (a hostile length prefix cannot make us allocate more)."""


class _Kind(IntEnum):
    CONTEXT = 1
    CKKS_VECTOR = 2


class ByteChannel(Protocol):
    """Anything that sends and receives whole messages in order (a qkdlink `Channel` is one)."""

    async def send(self, data: bytes | memoryview) -> None:
        """Send one message."""
        ...

    async def recv(self) -> bytes:
        """Receive the next message."""
        ...


class MeshPeerChannel:
    """A `ByteChannel` to one mesh peer: messages go under `prefix/0`, `prefix/1`, ..."""

    def __init__(self, mesh: Mesh, peer: str, prefix: str) -> None:
        self._mesh = mesh
        self._peer = peer
        self._prefix = prefix
        self._sent = 0
        self._received = 0

    async def send(self, data: bytes | memoryview) -> None:
        tag = f"{self._prefix}/{self._sent}"
        self._sent += 1
        await self._mesh.send(self._peer, tag, data)

    async def recv(self) -> bytes:
        tag = f"{self._prefix}/{self._received}"
        self._received += 1
        return await self._mesh.recv(self._peer, tag)


async def _send_blob(
    channel: ByteChannel, kind: _Kind, blob: bytes, chunk: int = DEFAULT_CHUNK
) -> None:
    if not 0 < chunk <= MAX_BLOB:
        raise LocalProtocolError("chunk size out of range")
    await channel.send(_HEADER.pack(_MAGIC, kind, len(blob), chunk))
    view = memoryview(blob)
    for start in range(0, len(blob), chunk):
        await channel.send(view[start : start + chunk])


async def _recv_blob(channel: ByteChannel, kind: _Kind) -> bytes:
    header = await channel.recv()
    try:
        magic, got_kind, total, chunk = _HEADER.unpack(header)
    except struct.error:
        raise RemoteProtocolError("not a TenSEAL transfer header") from None
    if magic != _MAGIC or got_kind != kind:
        raise RemoteProtocolError(f"expected a TenSEAL {kind.name.lower()} transfer")
    if total > MAX_BLOB or chunk == 0:
        raise RemoteProtocolError("TenSEAL transfer too large or malformed")
    buffer = bytearray(total)
    filled = 0
    while filled < total:
        part = await channel.recv()
        if len(part) != min(chunk, total - filled):
            raise RemoteProtocolError("TenSEAL transfer chunk of the wrong size")
        buffer[filled : filled + len(part)] = part
        filled += len(part)
    return bytes(buffer)


async def send_context(channel: ByteChannel, context: Any, *, chunk: int = DEFAULT_CHUNK) -> int:
    """Send the public part of a TenSEAL context (no secret key); returns the bytes sent.

    Raises:
        BrokenChannelError / PartyDisconnectedError: the link broke.
    """
    blob = context.serialize(
        save_public_key=True, save_secret_key=False, save_galois_keys=True, save_relin_keys=True
    )
    await _send_blob(channel, _Kind.CONTEXT, blob, chunk)
    return len(blob)


async def recv_context(channel: ByteChannel) -> Any:
    """Receive a public TenSEAL context.

    Raises:
        RemoteProtocolError: the peer sent something else, or a context with a secret key.
    """
    import tenseal as ts

    blob = await _recv_blob(channel, _Kind.CONTEXT)
    try:
        context = ts.context_from(blob)
    except Exception as exc:  # TenSEAL raises plain ValueError/RuntimeError on bad input
        raise RemoteProtocolError("malformed TenSEAL context") from exc
    if context.is_private():
        # A peer that ships its secret key defeats the scheme; refuse rather than use it.
        raise RemoteProtocolError("the peer sent a context holding its secret key")
    return context


async def send_ckks_vector(channel: ByteChannel, vector: Any, *, chunk: int = DEFAULT_CHUNK) -> int:
    """Send a CKKS ciphertext vector; returns the bytes sent.

    Raises:
        BrokenChannelError / PartyDisconnectedError: the link broke.
    """
    blob = vector.serialize()
    await _send_blob(channel, _Kind.CKKS_VECTOR, blob, chunk)
    return len(blob)


async def recv_ckks_vector(channel: ByteChannel, context: Any) -> Any:
    """Receive a CKKS ciphertext vector, linked to `context`.

    Raises:
        RemoteProtocolError: the peer sent something else or a malformed ciphertext.
    """
    import tenseal as ts

    blob = await _recv_blob(channel, _Kind.CKKS_VECTOR)
    try:
        return ts.ckks_vector_from(context, blob)
    except Exception as exc:  # TenSEAL raises plain ValueError/RuntimeError on bad input
        raise RemoteProtocolError("malformed CKKS vector") from exc
