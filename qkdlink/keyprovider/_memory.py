"""`InMemoryKeyPool`: QKD keys shared by the nodes of one process, for tests and demos."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter

from qkdlink.errors import ConfigurationError, KeyExhaustedError, KeyIdError
from qkdlink.keyprovider._base import KeyProvider

__all__ = ["InMemoryKeyPool"]

# A channel's handshake key and a seed's HKDF input (RFC 5869) both want 256 bits.
_MIN_KEY_BYTES = 32


class _PoolView:
    """The `KeyProvider` of one node over an `InMemoryKeyPool`."""

    def __init__(self, pool: InMemoryKeyPool, node: str) -> None:
        self._pool = pool
        self._node = node

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return self._pool._issue(master=self._node, slave=peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return self._pool._deliver(master=peer, slave=self._node, key_id=key_id)


class InMemoryKeyPool:
    """Pairwise QKD keys for tests: `capacity` keys per link (None: no limit), each fetched once.

    Material comes from `secrets` (a lab gets it from its KMEs); key IDs are UUIDs, as a KME
    gives them (ETSI GS QKD 014; the channel handshake refuses any other). When a link has
    issued `capacity` keys its `new_key` raises `KeyExhaustedError`; nothing is invented to
    replace a missing key.
    """

    def __init__(self, *, capacity: int | None = None, key_bytes: int = _MIN_KEY_BYTES) -> None:
        if (capacity is not None and capacity < 0) or key_bytes < _MIN_KEY_BYTES:
            raise ConfigurationError(
                f"capacity must be None or >= 0, and key_bytes >= {_MIN_KEY_BYTES}"
            )
        self._capacity = capacity
        self._key_bytes = key_bytes
        self._pending: dict[str, tuple[str, str, bytes]] = {}  # key ID -> master, slave, key
        self._issued: Counter[frozenset[str]] = Counter()
        self._delivered: Counter[frozenset[str]] = Counter()

    def provider(self, node: str) -> KeyProvider:
        """The provider `node` uses."""
        return _PoolView(self, node)

    def issued(self, a: str, b: str) -> int:
        """Keys handed out with `new_key` on the link between `a` and `b` (either as master)."""
        return self._issued[frozenset((a, b))]

    def delivered(self, a: str, b: str) -> int:
        """Keys fetched by ID on the link between `a` and `b` (each key counted once)."""
        return self._delivered[frozenset((a, b))]

    def _issue(self, *, master: str, slave: str) -> tuple[str, bytes]:
        if master == slave:
            raise ConfigurationError("a key needs two distinct nodes")
        link = frozenset((master, slave))
        if self._capacity is not None and self._issued[link] >= self._capacity:
            raise KeyExhaustedError(f"no key left on the link {master!r}-{slave!r}")
        key_id = str(uuid.uuid4())
        material = secrets.token_bytes(self._key_bytes)
        self._pending[key_id] = (master, slave, material)
        self._issued[link] += 1
        return key_id, material

    def _deliver(self, *, master: str, slave: str, key_id: str) -> bytes:
        entry = self._pending.get(key_id)
        # The ID came from the peer: it is not echoed (no peer-chosen text in our messages).
        if entry is None or entry[:2] != (master, slave):
            raise KeyIdError("unknown, consumed or foreign key ID")
        del self._pending[key_id]
        self._delivered[frozenset((master, slave))] += 1
        return entry[2]
