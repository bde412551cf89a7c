"""Backend-independent partition-stream bookkeeping: request checks and block slicing.

Both stores keep, per (link, partition), the blocks not yet fully consumed, each tagged with the
stream offset of its first stored byte (`start`). Invariant: the first stored block starts at the
partition's consumed watermark and each next block starts where the previous one ends. Consuming
up to an offset deletes the blocks wholly below it and re-seals the remainder of the last one, so
consumed bytes leave storage (the issue's "deleted when delivered").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from qkdlink.errors import KeyExhaustedError, KeyIdError, KeyStoreError
from qkdlink.keysource import KeyBlock
from qkdlink.keystore._base import Allocation, KeyAssignment
from qkdlink.keystore._sealing import Sealer, block_aad

PARTITIONS = (0, 1)
"""Blocks alternate between partitions by parity: partition = block_id % 2."""


def check_partition(partition: int) -> None:
    """Reject a partition other than 0 or 1 (a caller error)."""
    if partition not in PARTITIONS:
        raise ValueError("partition must be 0 or 1")


def check_lengths(lengths: Sequence[int]) -> int:
    """Total of `reserve` lengths; each must be positive (a caller error otherwise)."""
    if any(length <= 0 for length in lengths):
        raise ValueError("every reserved length must be positive")
    return sum(lengths)


def check_reserve(total: int, consumed: int, ingested_end: int) -> int:
    """The watermark after reserving `total` bytes from `consumed`; all or nothing.

    Raises:
        KeyExhaustedError: the pool holds fewer than `total` bytes.
    """
    if ingested_end - consumed < total:
        raise KeyExhaustedError("not enough key material in the pool")
    return consumed + total


def check_key_ids(key_ids: Sequence[str]) -> None:
    """A request naming a key ID twice would deliver one key twice: refuse it."""
    if len(set(key_ids)) != len(key_ids):
        raise KeyIdError("duplicate key ID in request")


def check_assignments(
    assignments: Sequence[KeyAssignment], consumed: int, ingested_end: int
) -> int:
    """Validate the peer's ranges against the partition; return the end of the last one.

    Raises:
        KeyIdError: duplicate key IDs, empty or overlapping ranges, or a range below the
            consumed watermark (already reserved, assigned or burned).
        KeyExhaustedError: the last range reaches past the ingested material.
    """
    check_key_ids([a.key_id for a in assignments])
    position = consumed
    for a in assignments:
        if a.length <= 0:
            raise KeyIdError("key range must not be empty")
        if a.offset < position:
            raise KeyIdError("key range overlaps material already consumed")
        position = a.offset + a.length
    if position > ingested_end:
        raise KeyExhaustedError("key material for these ranges has not been ingested yet")
    return position


def check_slaves(slave_sae_ids: Sequence[str]) -> None:
    """At least one slave, each named once."""
    if not slave_sae_ids or len(set(slave_sae_ids)) != len(slave_sae_ids):
        raise ValueError("slave_sae_ids must be non-empty and distinct")


@dataclass(frozen=True, slots=True)
class NewBlock:
    """A block placed in its partition stream, ready to be stored."""

    block_id: int
    partition: int
    start: int
    sealed: bytes = field(repr=False)


def place_blocks(
    sealer: Sealer,
    link_id: str,
    blocks: Sequence[KeyBlock],
    next_block_id: int,
    ingested_end: dict[int, int],
) -> tuple[list[NewBlock], int]:
    """Seal the blocks that continue the stream; update `ingested_end`; return new next_block_id.

    Blocks below `next_block_id` were ingested before and are ignored (idempotent ingest).

    Raises:
        KeyStoreError: a gap in block IDs, which would shift the stream offsets both KMEs of a
            link must agree on.
    """
    batch = sealer.batch()
    placed: list[NewBlock] = []
    for block in sorted(blocks, key=lambda b: b.block_id):
        if block.block_id < next_block_id:
            continue
        if block.block_id != next_block_id:
            raise KeyStoreError(f"block {block.block_id} ingested before block {next_block_id}")
        partition = block.block_id % 2
        start = ingested_end[partition]
        if block.material:
            aad = block_aad(link_id, partition, block.block_id, start)
            placed.append(
                NewBlock(block.block_id, partition, start, batch.seal(aad, block.material))
            )
        ingested_end[partition] = start + len(block.material)
        next_block_id += 1
    return placed, next_block_id


@dataclass(frozen=True, slots=True)
class Consumption:
    """The plaintext of stream range [consumed, end) and what to write back."""

    data: bytes = field(repr=False)
    """The consumed bytes, from the old watermark to `end`."""
    end: int
    """The new watermark; every stored block starting below it is deleted."""
    remainder: NewBlock | None
    """The unconsumed tail of the last block, re-sealed at its new start, if any."""


def consume(
    sealer: Sealer,
    link_id: str,
    partition: int,
    rows: Iterable[tuple[int, int, bytes]],
    consumed: int,
    end: int,
) -> Consumption:
    """Open the stored blocks (block_id, start, sealed) in stream order until `end` is covered.

    Raises:
        KeyStoreError: a row fails authentication, or the stored blocks do not continue the
            stream from the watermark (a tampered or inconsistent store).
    """
    pieces: list[bytes] = []
    position = consumed
    remainder: NewBlock | None = None
    for block_id, start, sealed in rows:
        if position >= end:
            break
        if start != position:
            raise KeyStoreError("stored key stream is inconsistent")
        plain = sealer.open(block_aad(link_id, partition, block_id, start), sealed)
        take = min(len(plain), end - position)
        pieces.append(plain[:take])
        position += take
        if take < len(plain):
            aad = block_aad(link_id, partition, block_id, position)
            sealed_tail = sealer.batch().seal(aad, plain[take:])
            remainder = NewBlock(block_id, partition, position, sealed_tail)
    if position != end:
        raise KeyStoreError("stored key stream is inconsistent")
    return Consumption(b"".join(pieces), end, remainder)


def allocations(data: bytes, consumed: int, lengths: Sequence[int]) -> list[Allocation]:
    """Split reserved bytes (from offset `consumed`) into one allocation per length."""
    out: list[Allocation] = []
    position = 0
    for length in lengths:
        out.append(Allocation(consumed + position, data[position : position + length]))
        position += length
    return out
