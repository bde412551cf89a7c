"""Where a channel's QKD keys come from: the `QkdKeyProvider` protocol and two implementations.

The master side (the channel initiator) asks for a fresh key shared with the peer (ETSI GS QKD
014 ``enc_keys``) and sends its ID in-band; the slave side fetches the same key by ID
(``dec_keys``). The method shapes match `qkdlink.randomness.KeyProvider`, so one object can serve
both. `KmeKeyProvider` adapts `qkdlink.client.KmeClient`; `InMemoryQkdLink` serves tests.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from qkdlink.errors import (
    ConfigurationError,
    KeyExhaustedError,
    KeyIdError,
    KmeBadRequestError,
    KmeResponseError,
)

if TYPE_CHECKING:
    from qkdlink.client import KmeClient

__all__ = ["InMemoryQkdLink", "KmeKeyProvider", "QkdKeyProvider"]


@runtime_checkable
class QkdKeyProvider(Protocol):
    """One node's access to the QKD keys it shares with each peer."""

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        """A fresh key shared with `peer`, and its ID (master side, ``enc_keys``).

        Raises:
            KeyExhaustedError: no key is left on the link with `peer`.
            KeyDeliveryError: the KME failed otherwise.
        """
        ...

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        """The key `peer` obtained as master under `key_id` (slave side; each ID works once).

        Raises:
            KeyIdError: the ID is unknown, already consumed, or belongs to another pair.
            KeyDeliveryError: the KME failed otherwise.
        """
        ...


class _LinkEnd:
    """The provider one node of an `InMemoryQkdLink` uses."""

    def __init__(self, link: InMemoryQkdLink, node: str) -> None:
        self._link = link
        self._node = node

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return self._link._issue(self._node, peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return self._link._deliver(master=peer, slave=self._node, key_id=key_id)


class InMemoryQkdLink:
    """QKD keys shared by nodes of one process, for tests: `capacity` keys, each fetched once.

    Material comes from `secrets` (a lab gets it from its KMEs). When `capacity` keys have been
    issued `new_key` raises `KeyExhaustedError`; nothing is invented to replace a missing key.
    """

    def __init__(self, *, capacity: int | None = None, key_bytes: int = 32) -> None:
        if (capacity is not None and capacity < 0) or key_bytes < 32:
            raise ConfigurationError("capacity must be >= 0 and key_bytes >= 32")
        self._capacity = capacity
        self._key_bytes = key_bytes
        self._pending: dict[str, tuple[str, str, bytes]] = {}
        self.issued = 0
        """Keys handed out with `new_key`."""
        self.delivered = 0
        """Keys fetched by ID."""

    def provider(self, node: str) -> QkdKeyProvider:
        """The provider `node` uses."""
        return _LinkEnd(self, node)

    def _issue(self, master: str, slave: str) -> tuple[str, bytes]:
        if master == slave:
            raise ConfigurationError("a key needs two distinct nodes")
        if self._capacity is not None and self.issued >= self._capacity:
            raise KeyExhaustedError(f"no key left on the link {master}-{slave}")
        key_id = str(uuid.uuid4())
        material = secrets.token_bytes(self._key_bytes)
        self._pending[key_id] = (master, slave, material)
        self.issued += 1
        return key_id, material

    def _deliver(self, *, master: str, slave: str, key_id: str) -> bytes:
        entry = self._pending.get(key_id)
        if entry is None or entry[:2] != (master, slave):
            raise KeyIdError("unknown, consumed or foreign key ID")
        del self._pending[key_id]
        self.delivered += 1
        return entry[2]


class KmeKeyProvider:
    """`QkdKeyProvider` over an open `KmeClient` (mutual TLS to this node's KME).

    Args:
        client: the SAE client, opened by the caller (``async with KmeClient(...)``).
        sae_ids: maps node IDs to SAE IDs when they differ (e.g. lab.json's ``sae_id``).
        batch: keys fetched per ``enc_keys`` call; the spares serve the next `new_key` calls
            (each is still used once; the peer fetches each by its own ID).
        size: key size in bits asked of the KME and required of every key it returns, both
            sides (None: the KME's default ``key_size``, any size accepted).

    Whatever the client returns is checked again here (defence in depth, a channel key must
    never be a guess): exactly the number of keys asked for, the requested key ID, the size.
    """

    def __init__(
        self,
        client: KmeClient,
        *,
        sae_ids: dict[str, str] | None = None,
        batch: int = 1,
        size: int | None = None,
    ) -> None:
        if batch < 1:
            raise ConfigurationError("batch must be >= 1")
        if size is not None and (size < 8 or size % 8):
            raise ConfigurationError("size must be a positive multiple of 8 bits")
        self._client = client
        self._sae_ids = dict(sae_ids or {})
        self._batch = batch
        self._size = size
        self._spare: dict[str, deque[tuple[str, bytes]]] = {}

    def _sae(self, node: str) -> str:
        return self._sae_ids.get(node, node)

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        spare = self._spare.setdefault(peer, deque())
        if not spare:
            container = await self._client.get_key(
                self._sae(peer), number=self._batch, size=self._size
            )
            if len(container.keys) != self._batch:
                raise KmeResponseError(
                    f"asked for {self._batch} keys, the KME returned {len(container.keys)}"
                )
            for key in container.keys:
                self._check_size(key.size)
            spare.extend((str(k.key_id), k.key) for k in container.keys)
        return spare.popleft()

    def _check_size(self, bits: int) -> None:
        if self._size is not None and bits != self._size:
            raise KmeResponseError(f"the KME returned a key of {bits} bits, not {self._size}")

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        try:
            container = await self._client.get_key_with_ids(self._sae(peer), [key_id])
        except KmeBadRequestError as exc:  # ETSI 014: 400 "keys not found" for unknown IDs
            raise KeyIdError(f"the KME refused key ID {key_id}: {exc.message}") from exc
        if len(container.keys) != 1:
            raise KmeResponseError(f"asked for 1 key, the KME returned {len(container.keys)}")
        key = container.keys[0]
        if str(key.key_id) != key_id.lower():
            raise KmeResponseError("the KME returned another key ID than requested")
        self._check_size(key.size)
        return key.key
