"""Receive a public TenSEAL context and CKKS ciphertexts, checking every header and fragment.

Each object is assembled into one buffer preallocated at its announced size (refused above
`max_size`, before allocating). Each wait for a message is bounded: by `idle_timeout` if given
(``math.inf``: no bound), else by the channel's own `recv_timeout` if it has one (a mesh peer),
else by DEFAULT_IDLE_TIMEOUT. A stream of ciphertexts is an async iterator that yields each
ciphertext as soon as its last fragment is in.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

from integrations.tenseal._channel import ByteChannel
from integrations.tenseal._wire import (
    MAX_CIPHERTEXT_SIZE,
    MAX_CONTEXT_SIZE,
    Header,
    Kind,
    SenderAbortedError,
)
from qkdlink.errors import (
    EndOfChannelError,
    LocalProtocolError,
    PartyDisconnectedError,
    RemoteProtocolError,
)

__all__ = ["DEFAULT_IDLE_TIMEOUT", "recv_ckks_vector", "recv_ckks_vectors", "recv_context"]

DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds to wait for each message of a transfer over a channel that has no `recv_timeout` of
its own (a qkdlink `Channel`); the mesh's default `recv_timeout` is the same."""


class _Reader:
    """Reads one transfer's messages, turning silence and a mid-transfer close into errors."""

    def __init__(self, channel: ByteChannel, max_size: int, timeout: float | None) -> None:
        if max_size <= 0:
            raise LocalProtocolError("max_size must be positive")
        if timeout is None:
            # A channel that bounds its own receives (a mesh peer) keeps its bound, looser or not.
            timeout = math.inf if hasattr(channel, "recv_timeout") else DEFAULT_IDLE_TIMEOUT
        if math.isnan(timeout) or timeout <= 0:
            raise LocalProtocolError("idle_timeout must be positive")
        self._channel = channel
        self._max_size = max_size
        self._timeout = None if timeout == math.inf else timeout
        self._started = False

    async def _message(self) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                message = await self._channel.recv()
        except TimeoutError:
            if self._timeout is None:
                raise  # not ours: the channel's own
            peer = str(getattr(self._channel, "peer_id", "peer"))
            raise PartyDisconnectedError(
                peer, f"no TenSEAL transfer message within {self._timeout:g} s"
            ) from None
        except EndOfChannelError as exc:
            if not self._started:
                raise  # an orderly close before the transfer began
            raise RemoteProtocolError("the channel ended amid a TenSEAL transfer") from exc
        self._started = True
        return message

    async def header(self, kind: Kind, index: int) -> Header:
        """The next header, which must announce `kind` at `index` (or, for a ciphertext, END)."""
        header = Header.decode(await self._message(), self._max_size)
        if header.kind is Kind.ABORT:
            raise SenderAbortedError(f"the sender aborted the TenSEAL stream at object {index}")
        if header.kind is Kind.END and kind is Kind.CKKS_VECTOR:
            return header
        if header.kind is not kind:
            raise RemoteProtocolError(
                f"expected a TenSEAL {kind.name}, the peer sent a {header.kind.name}"
            )
        if header.index != index:
            raise RemoteProtocolError(
                f"expected TenSEAL object {index}, the peer sent object {header.index}"
            )
        return header

    async def body(self, header: Header) -> bytearray:
        """The object's fragments, assembled into one buffer of the announced size."""
        buffer = bytearray(header.total)
        view = memoryview(buffer)
        filled = 0
        for number in range(1, header.fragments + 1):
            part = await self._message()
            expected = min(header.fragment_size, header.total - filled)
            if len(part) != expected:
                raise RemoteProtocolError(
                    f"TenSEAL fragment {number}/{header.fragments} has {len(part)} bytes, "
                    f"expected {expected}"
                )
            view[filled : filled + expected] = part
            filled += expected
        view.release()
        return buffer


def _load_context(data: bytearray) -> Any:
    import tenseal as ts

    try:
        try:
            context = ts.context_from(data)  # the binding copies a bytearray as it is
        except TypeError:
            context = ts.context_from(bytes(data))  # builds whose binding takes bytes only
    except Exception as exc:  # TenSEAL raises plain ValueError/RuntimeError on bad input
        raise RemoteProtocolError("malformed TenSEAL context") from exc
    if context.is_private():
        # A peer that ships its secret key defeats the scheme; refuse rather than use it.
        raise RemoteProtocolError("the peer sent a context holding its secret key")
    return context


def _load_vector(context: Any, data: bytearray) -> Any:
    import tenseal as ts

    try:
        return ts.ckks_vector_from(context, bytes(data))  # TenSEAL takes bytes only
    except Exception as exc:  # TenSEAL raises plain ValueError/RuntimeError on bad input
        raise RemoteProtocolError("malformed CKKS vector") from exc


async def recv_context(
    channel: ByteChannel,
    *,
    max_size: int = MAX_CONTEXT_SIZE,
    idle_timeout: float | None = None,
) -> Any:
    """Receive a public TenSEAL context (from `send_context`).

    `max_size` caps the announced length; `idle_timeout` bounds each wait for a message (None:
    the channel's own `recv_timeout` if it has one, else DEFAULT_IDLE_TIMEOUT; ``math.inf``:
    no bound).

    Raises:
        RemoteProtocolError: a malformed or out-of-place header, a fragment of the wrong size,
            more than `max_size` bytes announced, the channel closing mid-transfer, a malformed
            context, or one holding a secret key.
        PartyDisconnectedError: no message within the idle bound, or the mesh peer left.
        EndOfChannelError: the channel was closed before the transfer began.
        LocalProtocolError: `max_size` or `idle_timeout` is not positive.
    """
    reader = _Reader(channel, max_size, idle_timeout)
    header = await reader.header(Kind.CONTEXT, 0)
    return _load_context(await reader.body(header))


async def recv_ckks_vector(
    channel: ByteChannel,
    context: Any,
    *,
    max_size: int = MAX_CIPHERTEXT_SIZE,
    idle_timeout: float | None = None,
) -> Any:
    """Receive one CKKS vector (from `send_ckks_vector`), linked to `context`; the options are
    those of `recv_context`.

    Raises:
        RemoteProtocolError, PartyDisconnectedError, EndOfChannelError, LocalProtocolError:
            as `recv_context`.
    """
    reader = _Reader(channel, max_size, idle_timeout)
    header = await reader.header(Kind.CKKS_VECTOR, 0)
    if header.kind is Kind.END:
        raise RemoteProtocolError("expected a TenSEAL CKKS_VECTOR, the peer sent an END")
    return _load_vector(context, await reader.body(header))


async def recv_ckks_vectors(
    channel: ByteChannel,
    context: Any,
    *,
    max_size: int = MAX_CIPHERTEXT_SIZE,
    idle_timeout: float | None = None,
) -> AsyncIterator[Any]:
    """Yield the CKKS vectors of a stream (from `send_ckks_vectors`) as each one completes.

    Stops at the stream's END header; the options are those of `recv_context`, per ciphertext.
    Leaving the loop early leaves the rest of the stream unread on the channel.

    Raises:
        SenderAbortedError: the sender failed mid-stream.
        RemoteProtocolError: as `recv_context`, or objects out of order, or an END that counts
            a different number of ciphertexts.
        PartyDisconnectedError, EndOfChannelError, LocalProtocolError: as `recv_context`.
    """
    reader = _Reader(channel, max_size, idle_timeout)
    index = 0
    while True:
        header = await reader.header(Kind.CKKS_VECTOR, index)
        if header.kind is Kind.END:
            if header.index != index:
                raise RemoteProtocolError(
                    f"the TenSEAL stream ends claiming {header.index} ciphertexts; {index} came"
                )
            return
        vector = _load_vector(context, await reader.body(header))
        index += 1
        yield vector
        del vector
