"""Send a public TenSEAL context and CKKS ciphertexts, one object at a time, in fragments.

TenSEAL serializes an object only whole (``serialize() -> bytes``), so an object is serialized
when its turn comes, cut into fragments by memoryview slices (no copies here) and dropped
before the next one is pulled: a stream of ciphertexts holds one serialized ciphertext at a
time, however long it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import Any

from integrations.tenseal._channel import ByteChannel
from integrations.tenseal._wire import DEFAULT_FRAGMENT, Header, Kind, check_fragment_size
from qkdlink.errors import QkdlinkError

__all__ = ["send_ckks_vector", "send_ckks_vectors", "send_context"]


async def _send_object(channel: ByteChannel, header: Header, blob: bytes) -> None:
    await channel.send(header.encode())
    view = memoryview(blob)
    for start in range(0, len(blob), header.fragment_size):
        await channel.send(view[start : start + header.fragment_size])


def _public_context_bytes(context: Any) -> bytes:
    """The context serialized with its public, relinearization and Galois keys, never its
    secret key (TenSEAL leaves the secret key out when ``save_secret_key=False``)."""
    return bytes(
        context.serialize(
            save_public_key=True,
            save_secret_key=False,
            save_galois_keys=True,
            save_relin_keys=True,
        )
    )


async def send_context(
    channel: ByteChannel, context: Any, *, fragment_size: int = DEFAULT_FRAGMENT
) -> int:
    """Send the public part of a TenSEAL context (a private context is stripped of its secret
    key, never refused); returns the serialized size.

    Raises:
        LocalProtocolError: `fragment_size` is outside 1..MAX_FRAGMENT.
        BrokenChannelError / PartyDisconnectedError: the link broke.
    """
    check_fragment_size(fragment_size)  # before a serialization that may take a second
    blob = _public_context_bytes(context)
    await _send_object(channel, Header.for_object(Kind.CONTEXT, 0, len(blob), fragment_size), blob)
    return len(blob)


async def send_ckks_vector(
    channel: ByteChannel, vector: Any, *, fragment_size: int = DEFAULT_FRAGMENT
) -> int:
    """Send one CKKS ciphertext vector (for `recv_ckks_vector`); returns its serialized size.

    Raises:
        LocalProtocolError: `fragment_size` is outside 1..MAX_FRAGMENT.
        BrokenChannelError / PartyDisconnectedError: the link broke.
    """
    blob = vector.serialize()
    header = Header.for_object(Kind.CKKS_VECTOR, 0, len(blob), fragment_size)
    await _send_object(channel, header, blob)
    return len(blob)


async def _items(vectors: Iterable[Any] | AsyncIterable[Any]) -> AsyncGenerator[Any, None]:
    if isinstance(vectors, AsyncIterable):
        async for item in vectors:
            yield item
    else:
        for item in vectors:
            yield item


async def send_ckks_vectors(
    channel: ByteChannel,
    vectors: Iterable[Any] | AsyncIterable[Any],
    *,
    fragment_size: int = DEFAULT_FRAGMENT,
) -> int:
    """Send a stream of CKKS vectors (for `recv_ckks_vectors`), pulling and serializing each
    only once the previous one is sent; returns how many were sent.

    If pulling or serializing a vector raises, an ABORT header tells the receiver (best effort)
    and the exception propagates; so does a `LocalProtocolError` (an empty serialization, more
    than 2**32 - 1 vectors).

    Raises:
        LocalProtocolError: `fragment_size` is outside 1..MAX_FRAGMENT.
        BrokenChannelError / PartyDisconnectedError: the link broke.
    """
    check_fragment_size(fragment_size)  # before anything is pulled
    count = 0
    items = _items(vectors)
    try:
        while True:
            try:
                vector = await anext(items)
                blob = vector.serialize()
                header = Header.for_object(Kind.CKKS_VECTOR, count, len(blob), fragment_size)
            except StopAsyncIteration:
                break
            except Exception:
                with contextlib.suppress(QkdlinkError, OSError):
                    await channel.send(Header.marker(Kind.ABORT, count).encode())
                raise
            del vector
            await _send_object(channel, header, blob)
            del blob
            count += 1
    finally:
        await items.aclose()
    await channel.send(Header.marker(Kind.END, count).encode())
    return count
