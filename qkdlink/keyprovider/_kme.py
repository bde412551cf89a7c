"""`KmeKeyProvider`: a node's QKD keys from its KME (ETSI GS QKD 014 over mutual TLS)."""

from __future__ import annotations

import uuid
from collections import deque
from typing import TYPE_CHECKING

from qkdlink.errors import ConfigurationError, KeyIdError, KmeBadRequestError, KmeResponseError

if TYPE_CHECKING:
    from qkdlink.client import KmeClient

__all__ = ["KmeKeyProvider"]


class KmeKeyProvider:
    """`KeyProvider` over an open `KmeClient` (mutual TLS to this node's KME).

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
        # The ID came from the peer: a malformed one is the peer's error (KeyIdError, as any
        # unknown ID), not a local misuse of the client; nor is it echoed.
        try:
            wanted = uuid.UUID(key_id)
        except ValueError:
            raise KeyIdError("the key ID is not a UUID (ETSI GS QKD 014)") from None
        try:
            container = await self._client.get_key_with_ids(self._sae(peer), [wanted])
        except KmeBadRequestError as exc:  # ETSI 014: 400 "keys not found" for unknown IDs
            raise KeyIdError(f"the KME refused key ID {wanted}: {exc.message}") from exc
        if len(container.keys) != 1:
            raise KmeResponseError(f"asked for 1 key, the KME returned {len(container.keys)}")
        key = container.keys[0]
        if key.key_id != wanted:
            raise KmeResponseError("the KME returned another key ID than requested")
        self._check_size(key.size)
        return key.key
