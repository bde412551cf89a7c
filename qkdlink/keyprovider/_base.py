"""The `KeyProvider` protocol: one node's ETSI GS QKD 014 view of the keys it shares with peers."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["KeyProvider"]


@runtime_checkable
class KeyProvider(Protocol):
    """One node's access to the QKD keys it shares with each peer.

    The master side of a pair asks for a fresh key (``enc_keys``) and sends only its ID to the
    peer, in-band; the slave side fetches the same key by that ID (``dec_keys``).
    """

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
