"""Counting wrappers over a hospital's KME key provider: who delivered how many keys, for what."""

from __future__ import annotations

from collections import Counter

from qkdlink.keyprovider import KeyProvider

__all__ = ["CountingKeyProvider"]


class CountingKeyProvider:
    """Counts keys this hospital's KME delivered (enc_keys / dec_keys) under one purpose."""

    def __init__(self, inner: KeyProvider, purpose: str, counts: Counter[str]) -> None:
        self._inner = inner
        self._purpose = purpose
        self._counts = counts

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        key_id, key = await self._inner.new_key(peer)
        self._counts[f"{self._purpose}/enc_keys"] += 1
        return key_id, key

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        key = await self._inner.key_by_id(peer, key_id)
        self._counts[f"{self._purpose}/dec_keys"] += 1
        return key
