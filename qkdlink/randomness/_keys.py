"""Where seeds' QKD keys come from: a small `KeyProvider` protocol and an in-memory lab pool.

The master side of a pair asks for a fresh key for a peer (ETSI 014 `enc_keys`), the slave side
fetches the same key by its ID (`dec_keys`). An adapter over `qkdlink.client.KmeClient` provides
the real thing; `InMemoryKeyPool` serves tests and single-process demos.
"""

from __future__ import annotations

import secrets
from typing import Protocol, runtime_checkable

from qkdlink.errors import ConfigurationError, KeyExhaustedError, KeyIdError

__all__ = ["InMemoryKeyPool", "KeyProvider"]


@runtime_checkable
class KeyProvider(Protocol):
    """One party's access to QKD keys shared with each peer."""

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        """A fresh key shared with `peer` and its ID (the master side).

        Raises:
            KeyExhaustedError: the pool of the link with `peer` is empty.
        """
        ...

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        """The key `key_id` that `peer` fetched as master (the slave side; each ID once).

        Raises:
            KeyIdError: the ID is unknown, already fetched, or of another link.
        """
        ...


class _PoolView:
    """The `KeyProvider` of one party over an `InMemoryKeyPool`."""

    def __init__(self, pool: InMemoryKeyPool, party: str) -> None:
        self._pool = pool
        self._party = party

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return self._pool.take_new(self._party, peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return self._pool.take_by_id(self._party, peer, key_id)


class InMemoryKeyPool:
    """Pairwise key pools for tests: `capacity` keys per link, each fetched once per side.

    Keys come from `secrets` (tests only: a real lab gets them from the KMEs). An exhausted
    link raises `KeyExhaustedError`; nothing is ever invented to replace a missing key.
    """

    def __init__(self, *, capacity: int = 1 << 20, key_bytes: int = 32) -> None:
        if capacity < 0 or key_bytes < 16:
            raise ConfigurationError("capacity must be >= 0 and key_bytes >= 16")
        self._capacity = capacity
        self._key_bytes = key_bytes
        self._issued: dict[frozenset[str], int] = {}
        self._pending: dict[tuple[frozenset[str], str], tuple[str, bytes]] = {}
        self._delivered: dict[frozenset[str], int] = {}

    def provider(self, party: str) -> KeyProvider:
        """The provider `party` uses."""
        return _PoolView(self, party)

    def delivered(self, a: str, b: str) -> int:
        """Keys delivered on the link between `a` and `b` (both sides counted once per key)."""
        return self._issued.get(frozenset((a, b)), 0)

    def take_new(self, party: str, peer: str) -> tuple[str, bytes]:
        """Issue a fresh key on the link (party, peer) to `party` as master."""
        if party == peer:
            raise ConfigurationError("a key needs two distinct parties")
        link = frozenset((party, peer))
        issued = self._issued.get(link, 0)
        if issued >= self._capacity:
            raise KeyExhaustedError(f"no key left on link {party!r}-{peer!r}")
        self._issued[link] = issued + 1
        key_id = f"{secrets.token_hex(16)}"
        key = secrets.token_bytes(self._key_bytes)
        self._pending[(link, key_id)] = (party, key)
        return key_id, key

    def take_by_id(self, party: str, peer: str, key_id: str) -> bytes:
        """Hand the key `key_id` issued by `peer` to `party`, once."""
        link = frozenset((party, peer))
        entry = self._pending.get((link, key_id))
        if entry is None or entry[0] != peer:
            raise KeyIdError(f"key ID {key_id} unknown or already fetched")
        del self._pending[(link, key_id)]
        return entry[1]
