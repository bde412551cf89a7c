"""`CheckedKeyStore`: the caller-facing `KeyStore` methods, written once for every backend.

Each method checks its arguments first (a caller error raises before any storage is touched),
answers an empty request without a transaction, and hands the rest to one storage hook that the
backend runs atomically and durably. Both backends thus refuse the same misuse with the same
exception and message, and a backend holds only its storage code.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import NamedTuple, Self

from qkdlink._aclose import AsyncClosing
from qkdlink.keysource import KeyBlock
from qkdlink.keystore._base import Allocation, KeyAssignment, StoredKey
from qkdlink.keystore._stream import check_key_ids, check_lengths, check_partition, check_slaves

ALREADY_ASSIGNED = "key ID already assigned"
"""The `KeyIdError` message both backends give when an assigned key ID is assigned again."""


class AssignRequest(NamedTuple):
    """A checked, non-empty `assign` call, as the backend's `_assign` hook receives it."""

    link_id: str
    """The QKD link."""
    partition: int
    """The peer's partition (0 or 1) the ranges are in."""
    assignments: Sequence[KeyAssignment]
    """The master's key IDs and ranges, at least one."""
    master_sae_id: str
    """The SAE that asked the master KME for the keys."""
    slave_sae_ids: Sequence[str]
    """The SAEs each key is deliverable to once, at least one, distinct."""


class CheckedKeyStore(AsyncClosing):
    """A `KeyStore` whose backend implements `open`, `aclose` and the `_`-prefixed hooks.

    Hooks receive checked, non-empty requests only; each runs in one transaction that applies
    entirely or not at all, and returns only once what it applied is durable.
    """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    # --- lifecycle (backend) ------------------------------------------------------------------

    @abstractmethod
    async def open(self) -> None:
        """Create the schema if needed and recover after a crash."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; safe to call twice."""

    # --- raw blocks -----------------------------------------------------------------------------

    async def ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        """Durably add raw blocks of a link; a block_id already ingested is ignored.

        Raises:
            KeyStoreError: a gap in block IDs, or the backend failed; nothing applied.
        """
        if blocks:
            await self._ingest(link_id, blocks)

    async def next_block_id(self, link_id: str) -> int:
        """The block_id to resume the link's `KeySource` from (one past the highest ingested).

        Raises:
            KeyStoreError: the backend failed.
        """
        return await self._next_block_id(link_id)

    async def pool_bytes(self, link_id: str, partition: int) -> int:
        """Bytes of the partition ingested and not yet consumed.

        Raises:
            KeyStoreError: the backend failed.
        """
        check_partition(partition)
        return await self._pool_bytes(link_id, partition)

    # --- master side ----------------------------------------------------------------------------

    async def reserve(
        self, link_id: str, partition: int, lengths: Sequence[int]
    ) -> list[Allocation]:
        """Consume the next `sum(lengths)` bytes of the partition, one allocation per length.

        Raises:
            KeyExhaustedError: the pool holds fewer bytes; nothing consumed.
            KeyStoreError: the backend failed or stored material failed authentication.
        """
        check_partition(partition)
        total = check_lengths(lengths)
        if total == 0:
            return []
        return await self._reserve(link_id, partition, lengths, total)

    # --- peer side ------------------------------------------------------------------------------

    async def assign(
        self,
        link_id: str,
        partition: int,
        assignments: Sequence[KeyAssignment],
        master_sae_id: str,
        slave_sae_ids: Sequence[str],
    ) -> None:
        """Turn exact ranges of the partition into keys deliverable once to each slave.

        Raises:
            KeyExhaustedError: the ranges are not ingested yet; nothing consumed.
            KeyIdError: a key ID already stored or repeated, or a range overlapping consumed
                material; nothing consumed.
            KeyStoreError: the backend failed.
        """
        check_partition(partition)
        check_slaves(slave_sae_ids)
        if not assignments:
            return
        await self._assign(
            AssignRequest(link_id, partition, assignments, master_sae_id, slave_sae_ids)
        )

    async def take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[StoredKey]:
        """Deliver keys to a slave once and delete its copy; all or nothing, in request order.

        Raises:
            KeyIdError: an ID is unknown, repeated or already delivered to this slave;
                nothing delivered.
            KeyNotEntitledError: every ID is known but one was assigned for another
                master/slave pair; nothing delivered.
            KeyStoreError: the backend failed or stored material failed authentication.
        """
        check_key_ids(key_ids)
        if not key_ids:
            return []
        taken = await self._take(master_sae_id, slave_sae_id, key_ids)
        return [StoredKey(key_id, material) for key_id, material in taken]

    async def stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        """Keys assigned for this pair and not yet delivered to the slave.

        Raises:
            KeyStoreError: the backend failed.
        """
        return await self._stored_key_count(master_sae_id, slave_sae_id)

    # --- storage hooks (backend) --------------------------------------------------------------

    @abstractmethod
    async def _ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        """Store the blocks that continue the link's stream (`_stream.place_blocks`)."""

    @abstractmethod
    async def _next_block_id(self, link_id: str) -> int:
        """The stored next block_id of the link, 0 for an unknown link."""

    @abstractmethod
    async def _pool_bytes(self, link_id: str, partition: int) -> int:
        """Ingested minus consumed bytes of the partition, 0 for an unknown link."""

    @abstractmethod
    async def _reserve(
        self, link_id: str, partition: int, lengths: Sequence[int], total: int
    ) -> list[Allocation]:
        """Consume `total` (> 0, the sum of `lengths`) bytes at the partition's watermark."""

    @abstractmethod
    async def _assign(self, request: AssignRequest) -> None:
        """Consume the request's ranges and store their keys, sealed, for each slave."""

    @abstractmethod
    async def _take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        """Delete the slave's copies of distinct keys; return (key_id, material) in order."""

    @abstractmethod
    async def _stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        """Keys stored for the pair and not yet delivered."""
