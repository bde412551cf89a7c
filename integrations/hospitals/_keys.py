"""Counting wrappers over a hospital's KME key provider: how many keys its SAE fetched, for what.

The KMEs count what they delivered themselves (`qkdlink.kme.KmeServer.delivered`); these
client-side counts give the purposes. The report prints both; the scenario tests check they
agree.
"""

from __future__ import annotations

from collections import Counter

from qkdlink.keyprovider import KeyProvider

__all__ = ["CountingKeyProvider"]


class CountingKeyProvider:
    """Counts keys this hospital's SAE fetched from its KME (enc_keys / dec_keys) for a purpose.

    With `first_key_as`, the first key delivered through this wrapper is also counted under that
    purpose: a channel's first key is its handshake's (rekey and one-time-pad keys come later), so
    one wrapper per channel attempt counts the keys handshakes actually consumed.
    """

    def __init__(
        self,
        inner: KeyProvider,
        purpose: str,
        counts: Counter[str],
        *,
        first_key_as: str | None = None,
    ) -> None:
        self._inner = inner
        self._purpose = purpose
        self._counts = counts
        self._first_key_as = first_key_as

    def _count(self, kind: str) -> None:
        self._counts[f"{self._purpose}/{kind}"] += 1
        if self._first_key_as is not None:
            self._counts[f"{self._first_key_as}/{kind}"] += 1
            self._first_key_as = None

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        key_id, key = await self._inner.new_key(peer)
        self._count("enc_keys")
        return key_id, key

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        key = await self._inner.key_by_id(peer, key_id)
        self._count("dec_keys")
        return key
