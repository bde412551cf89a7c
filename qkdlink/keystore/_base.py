"""The `KeyStore` contract a KME keeps its link pools and deliverable keys in.

Model (docs/kme.md): each QKD link has a stream of raw blocks (`KeySource`) that both KMEs of the
link ingest identically. Blocks alternate between two *partitions* by parity (block_id % 2); each
KME of a link owns one partition and is the only one that ever reserves from it, so two KMEs
acting as masters at the same time can never hand out the same bytes. A partition is read as one
byte stream (its blocks in order); an `offset` is a position in that stream.

- Master side: `reserve` consumes the next bytes of the KME's own partition, atomically and
  durably, and returns them; the KME then tells the peer which key IDs map to which offsets.
- Peer (slave) side: `assign` consumes exactly those ranges of the peer's partition in its own
  copy and stores them as keys deliverable once to each named slave SAE; `take` delivers and
  deletes them (ETSI GS QKD 014 clause 5.3/5.4 post-conditions).

Every method is atomic: it applies entirely or not at all, and what it returned is durable.
A call cancelled while its transaction commits may apply without its result reaching the caller:
the bytes or keys are then lost (burned), never handed out twice.
Caller errors (a partition other than 0/1, a non-positive length, no slave) raise `ValueError`.
Implementations: `SqliteKeyStore`, `PostgresKeyStore` (built from config by `open_key_store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from qkdlink.keysource import KeyBlock

# The three value types below are immutable typed NamedTuples rather than frozen dataclasses:
# a KME builds one per key, thousands per request, and a frozen dataclass's __init__ (one
# object.__setattr__ per field) costs about 1.3 us against 0.2 us for a NamedTuple, which was
# a tenth of a 1,024-key request's CPU. Those holding key bytes override __repr__ to hide them.


class Allocation(NamedTuple):
    """A range of a partition stream, consumed by `reserve`, with its bytes."""

    offset: int
    """Start of the range in the partition stream (bytes)."""
    material: bytes
    """The key bytes; never printed."""

    def __repr__(self) -> str:
        return f"Allocation(offset={self.offset!r}, material=<{len(self.material)} bytes>)"


class KeyAssignment(NamedTuple):
    """The master KME's word to the peer: key `key_id` is bytes [offset, offset+length)."""

    key_id: str
    """The ETSI 014 key ID (a UUID string) the master chose."""
    offset: int
    """Start of the range in the master's partition stream (bytes)."""
    length: int
    """Length of the key in bytes (the requested size / 8)."""


class StoredKey(NamedTuple):
    """A key delivered by `take`."""

    key_id: str
    """The ETSI 014 key ID."""
    material: bytes
    """The key bytes; never printed."""

    def __repr__(self) -> str:
        return f"StoredKey(key_id={self.key_id!r}, material=<{len(self.material)} bytes>)"


class KeyStore(Protocol):
    """Durable, atomic storage for a KME's link pools and its deliverable keys.

    Key material is encrypted at rest under the KME master key and deleted once delivered.
    Errors: `KeyExhaustedError` (not enough material; nothing consumed), `KeyIdError` (unknown,
    duplicate, already delivered or foreign key ID; nothing consumed), `KeyStoreError` (the
    backend failed; nothing applied).
    """

    async def open(self) -> None:
        """Create the schema if needed and recover after a crash."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...

    async def ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        """Durably add raw blocks of a link; a block_id already stored or consumed is ignored.

        Blocks must continue the stream (block_id == `next_block_id`, then consecutive): a gap
        would shift the offsets both KMEs must agree on, so it raises `KeyStoreError`.
        """
        ...

    async def next_block_id(self, link_id: str) -> int:
        """The block_id to resume the link's `KeySource` from (one past the highest ingested)."""
        ...

    async def pool_bytes(self, link_id: str, partition: int) -> int:
        """Bytes of the partition ingested and not yet consumed (reserved, assigned or burned)."""
        ...

    async def reserve(
        self, link_id: str, partition: int, lengths: Sequence[int]
    ) -> list[Allocation]:
        """Consume the next `sum(lengths)` bytes of the partition, one allocation per length.

        All or nothing: `KeyExhaustedError` when the pool holds fewer bytes.
        """
        ...

    async def assign(
        self,
        link_id: str,
        partition: int,
        assignments: Sequence[KeyAssignment],
        master_sae_id: str,
        slave_sae_ids: Sequence[str],
    ) -> None:
        """Peer side: turn exact ranges of the partition into keys deliverable to the slaves.

        Offsets must be increasing, non-overlapping and at or past the partition's consumed
        watermark; bytes skipped before an offset are burned (never used). `KeyExhaustedError`
        when the material has not been ingested yet (the caller may wait and retry);
        `KeyIdError` for a key ID already known or repeated, or a range that is empty,
        overlaps another, or was already consumed.
        """
        ...

    async def take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[StoredKey]:
        """Deliver keys to a slave once and delete its copy; all or nothing, in request order.

        `KeyIdError` when any ID is unknown, repeated, or already delivered to this slave;
        `KeyNotEntitledError` (a `KeyIdError`) when every ID is known but one was assigned for
        another master/slave pair (the KME answers 401, ETSI GS QKD 014 clause 5.4).
        """
        ...

    async def stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        """Keys assigned for this pair and not yet delivered to the slave."""
        ...
