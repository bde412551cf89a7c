"""Wegman-Carter authentication of every post-processing message with one-time Poly1305 keys.

Construction (Wegman & Carter, JCSS 22 (1981); Bernstein, "The Poly1305-AES message-
authentication code", FSE 2005; RFC 8439 §2.5): tag = (poly_r(m) + s) mod 2^128. poly_r is an
ε-almost-Δ-universal hash with ε = 8·ceil(L/16)/2^106 for L-byte messages; adding a fresh
uniformly random s per message (a one-time pad on the hash) makes the MAC information-
theoretically secure. r is drawn once per block from the pre-shared pool and s afresh for each
message, so a block costs 16 + 16·(messages) bytes of key, which is subtracted from its net key.
Both ends draw from identical pools in the same order; the message counter and direction are
authenticated too, so replayed, reordered or reflected messages fail.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from protocols.errors import AuthenticationError, LocalProtocolError, PostProcessingAbortedError

__all__ = ["TAG_BYTES", "AuthKeyPool", "MessageAuthenticator"]

TAG_BYTES = 16
_KEY_BYTES = 16


class AuthKeyPool:
    """Pre-shared secret key for authentication; both ends hold identical copies.

    Bytes are consumed front to back and never reused; `refill` appends key distilled by a
    later block (its `KeyDistilled.auth_refill`).
    """

    __slots__ = ("_consumed", "_material")

    def __init__(self, material: bytes) -> None:
        self._material = bytearray(material)
        self._consumed = 0

    def __repr__(self) -> str:
        return f"AuthKeyPool(remaining={len(self._material)} bytes)"

    @property
    def remaining(self) -> int:
        """Bytes still available."""
        return len(self._material)

    @property
    def consumed(self) -> int:
        """Bytes consumed so far, over the pool's life."""
        return self._consumed

    def take(self, size: int) -> bytes:
        """Remove and return the next `size` bytes.

        Raises:
            PostProcessingAbortedError: the pool holds fewer than `size` bytes.
        """
        if size < 0:
            raise LocalProtocolError("size must be non-negative")
        if size > len(self._material):
            raise PostProcessingAbortedError("authentication key pool exhausted")
        out = bytes(self._material[:size])
        del self._material[:size]
        self._consumed += size
        return out

    def refill(self, material: bytes) -> None:
        """Append fresh key (from a distilled block) to the pool."""
        self._material += material


class MessageAuthenticator:
    """Tags and checks the messages of one block, in order, for one end of the link."""

    __slots__ = ("_consumed", "_pool", "_r", "_received", "_role", "_sent")

    def __init__(self, pool: AuthKeyPool, *, role: int) -> None:
        self._pool = pool
        self._role = role
        self._r: bytes | None = None
        self._sent = 0
        self._received = 0
        self._consumed = 0

    @property
    def consumed_bytes(self) -> int:
        """Key bytes this block consumed so far (the hash key r and every one-time pad s)."""
        return self._consumed

    def _one_time_key(self) -> bytes:
        # Both ends draw in the same order: r first, then one s per message in transcript order.
        # The protocol alternates strictly (Bob, Alice, Bob, ...), so the order is well defined.
        if self._r is None:
            self._r = self._pool.take(_KEY_BYTES)
            self._consumed += _KEY_BYTES
        s = self._pool.take(_KEY_BYTES)
        self._consumed += _KEY_BYTES
        return self._r + s

    def _header(self, sender: int, counter: int) -> bytes:
        return struct.pack(">BQ", sender, counter)

    def tag(self, message: bytes) -> bytes:
        """The tag of an outgoing message (consumes one pad)."""
        key = self._one_time_key()
        tag = Poly1305.generate_tag(key, self._header(self._role, self._sent) + message)
        self._sent += 1
        return tag

    def verify(self, message: bytes, tag: bytes) -> None:
        """Check an incoming message's tag (consumes one pad whatever the outcome).

        Raises:
            AuthenticationError: the tag does not match (forged, altered, replayed, reflected).
        """
        key = self._one_time_key()
        header = self._header(1 - self._role, self._received)
        self._received += 1
        try:
            Poly1305.verify_tag(key, header + message, tag)
        except InvalidSignature:
            # verify_tag compares in constant time; one opaque error whatever the cause.
            raise AuthenticationError("message authentication failed") from None
