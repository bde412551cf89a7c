"""Wegman-Carter authentication of the post-processing transcript with one-time Poly1305 keys.

Construction (Wegman & Carter, JCSS 22 (1981); Bernstein, "The Poly1305-AES message-
authentication code", FSE 2005; RFC 8439 §2.5): tag = (poly_r(m) + s) mod 2^128. poly_r is an
ε-almost-Δ-universal hash with ε = 8·ceil(L/16)/2^106 for L-byte inputs; adding a fresh uniform
s per tag (a one-time pad on the hash) makes the MAC information-theoretically secure, so r may
serve the whole block while every tag takes a new s from the pre-shared pool.

Every message is authenticated. Most carry their own tag; Cascade's parity queries and replies
(hundreds of round trips) are authenticated together with the next tagged message in the same
direction, whose tag covers every frame sent since the previous tag (delayed authentication).
This is safe because nothing irreversible depends on them before that tag is checked: Alice counts
every parity she discloses, forged queries included, into λ_EC; Bob's `Verify` tag covers all his
queries and is checked before Alice fixes the key length; Alice's `PrivacyAmplification` tag
covers all her replies and Bob's final `Confirm` tells Alice he accepted them, and only then does
Alice release her key. A block thus costs 16 + 16·(tagged messages) bytes of pool key (about 130
bytes), which is subtracted from its net key. A sender/counter header is authenticated with each
tag, so replayed, reordered or reflected messages fail.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from protocols.errors import AuthenticationError, LocalProtocolError, PostProcessingAbortedError

__all__ = ["TAG_BYTES", "AuthKeyPool", "MessageAuthenticator"]

TAG_BYTES = 16
_KEY_BYTES = 16
_HEADER = struct.Struct(">BQ")
_LENGTH = struct.Struct(">Q")
_JOIN_BELOW = 1 << 16

Frame = bytes | memoryview | Sequence[bytes | memoryview]
"""One frame: its bytes, or its consecutive pieces (MACed as if joined; never modified later)."""


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
    """Tags and checks the transcript of one block, in order, for one end of the link."""

    __slots__ = (
        "_consumed",
        "_incoming",
        "_outgoing",
        "_pool",
        "_r",
        "_received",
        "_role",
        "_sent",
    )

    def __init__(self, pool: AuthKeyPool, *, role: int) -> None:
        self._pool = pool
        self._role = role
        self._r: bytes | None = None
        self._sent = 0
        self._received = 0
        self._consumed = 0
        self._outgoing: list[Frame] = []
        self._incoming: list[Frame] = []

    @property
    def consumed_bytes(self) -> int:
        """Key bytes this block consumed so far (the hash key r and every one-time pad s)."""
        return self._consumed

    def _one_time_key(self) -> bytes:
        # Both ends draw in the same order: r first, then one s per tagged message in transcript
        # order. The protocol alternates strictly (Bob, Alice, Bob, ...), so the order is fixed.
        if self._r is None:
            self._r = self._pool.take(_KEY_BYTES)
            self._consumed += _KEY_BYTES
        s = self._pool.take(_KEY_BYTES)
        self._consumed += _KEY_BYTES
        return self._r + s

    def _mac(self, key: bytes, sender: int, counter: int, frames: list[Frame]) -> Poly1305:
        mac = Poly1305(key)
        # Small pieces are joined and fed at once (one update per Cascade frame would cost more
        # than hashing it); large ones are fed in place.
        pending: list[bytes | memoryview] = [_HEADER.pack(sender, counter)]
        for frame in frames:
            pieces = (frame,) if isinstance(frame, bytes | memoryview) else frame
            # Length-prefix each frame so frame boundaries are authenticated too.
            pending.append(_LENGTH.pack(sum(map(len, pieces))))
            for piece in pieces:
                if len(piece) < _JOIN_BELOW:
                    pending.append(piece)
                else:
                    mac.update(b"".join(pending))
                    pending = []
                    mac.update(piece)
        mac.update(b"".join(pending))
        return mac

    def seal(self, frame: Frame, *, tagged: bool) -> bytes:
        """Record an outgoing frame; return its tag (covering earlier untagged frames) or b""."""
        self._outgoing.append(frame)
        if not tagged:
            return b""
        key = self._one_time_key()
        tag = self._mac(key, self._role, self._sent, self._outgoing).finalize()
        self._outgoing = []
        self._sent += 1
        return tag

    def open(self, frame: bytes | memoryview, tag: bytes, *, tagged: bool) -> None:
        """Record an incoming frame; if tagged, check the tag over it and earlier untagged frames.

        Raises:
            AuthenticationError: the tag does not match (forged, altered, replayed, reflected).
        """
        self._incoming.append(frame)
        if not tagged:
            return
        key = self._one_time_key()
        mac = self._mac(key, 1 - self._role, self._received, self._incoming)
        self._incoming = []
        self._received += 1
        try:
            # verify compares in constant time; one opaque error whatever the cause.
            mac.verify(tag)
        except InvalidSignature:
            raise AuthenticationError("message authentication failed") from None
