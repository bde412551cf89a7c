"""Deliverable keys sealed in batches: one AES-GCM blob per (assign chunk, slave), one index row
per key.

Sealing each key on its own costs an AES-GCM call and a blob per key and slave, which dominated
`assign` and `take` at 1,024 keys per request. Instead `assign` seals up to `KEYS_PER_BATCH`
consecutive keys of one slave into one blob, and stores one small index row per key
(key_id, slave, master, batch_id). The blob's plaintext lists its keys with their IDs, so the
index is checked against authenticated data: a row pointing at another batch, or a batch moved
to another row or SAE pair, fails closed.

Deletion on delivery (ETSI GS QKD 014 clauses 5.3/5.4): `take` re-seals each batch it touched
without the keys it delivered (under a fresh derived key and nonce) in the same transaction,
or deletes the batch when none remain, so a delivered key's bytes never stay in storage.

Plaintext layout (n keys; lengths are big-endian 16-bit): ``n (4) || len(key_id_1) .. len(key_id_n)
|| len(key_1) .. len(key_n) || key_id_1 .. key_id_n (UTF-8) || key_1 .. key_n``. Decoding is two
`struct` calls and slicing, with no per-key parsing loop.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

from qkdlink.errors import KeyIdError, KeyNotEntitledError, KeyStoreError
from qkdlink.keystore._base import KeyAssignment
from qkdlink.keystore._sealing import Sealer, SealingBatch, key_batch_aad

KEYS_PER_BATCH = 256
"""Keys per sealed blob. Bounds what a `take` of one key re-seals (about 18 KiB at 256 bits)
while a request of 1,024 keys still costs only four AES-GCM calls per slave."""

_COUNT = struct.Struct(">I")

KeyIndexRow = tuple[str, str, str, str]
"""One key copy for one slave: (key_id, slave_sae_id, master_sae_id, batch_id)."""
KeyBatchRow = tuple[str, str, str, int, bytes]
"""One sealed batch: (batch_id, slave_sae_id, master_sae_id, keys it holds, sealed).

The SAE pair and count are kept in clear for `stored_key_count` only; the pair is also bound
into the associated data, so a batch moved to another pair fails authentication."""
ResealedBatch = tuple[str, int, bytes]
"""A batch rewritten by `take`: (batch_id, keys it still holds, sealed)."""


def encode_key_batch(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """The plaintext of a key batch (layout in the module docstring).

    Raises:
        KeyStoreError: a key ID or key longer than the layout's 16-bit length fields.
    """
    pairs = list(entries)
    raw_ids = [key_id.encode() for key_id, _ in pairs]
    keys = [material for _, material in pairs]
    count = len(pairs)
    try:
        lengths = struct.pack(f">{2 * count}H", *map(len, raw_ids), *map(len, keys))
    except struct.error:
        raise KeyStoreError("key ID or key too long for a key batch") from None
    return b"".join((_COUNT.pack(count), lengths, *raw_ids, *keys))


def decode_key_batch(plain: bytes) -> dict[str, bytes]:
    """The batch's keys by ID; a malformed plaintext (impossible once authenticated) fails.

    Raises:
        KeyStoreError: the plaintext does not follow the layout.
    """
    try:
        (count,) = _COUNT.unpack_from(plain, 0)
        lengths = struct.unpack_from(f">{2 * count}H", plain, _COUNT.size)
        bounds = list(accumulate(lengths, initial=_COUNT.size + 4 * count))
        if bounds[-1] != len(plain):
            raise KeyStoreError("stored key batch is inconsistent")
        spans = list(pairwise(bounds))  # the n key IDs' spans, then the n keys'
        ids = [plain[a:b].decode() for a, b in spans[:count]]
        keys = [plain[a:b] for a, b in spans[count:]]
    except (struct.error, UnicodeDecodeError, MemoryError):
        raise KeyStoreError("stored key batch is inconsistent") from None
    out = dict(zip(ids, keys, strict=True))
    if len(out) != count:  # a key ID twice: never written so
        raise KeyStoreError("stored key batch is inconsistent")
    return out


def new_batch_id() -> str:
    """A random 128-bit batch identity (hex); bound into the batch's associated data."""
    return secrets.token_hex(16)


def seal_key_batches(
    batch: SealingBatch,
    data: bytes,
    consumed: int,
    assignments: Sequence[KeyAssignment],
    master_sae_id: str,
    slave_sae_ids: Sequence[str],
) -> tuple[list[KeyIndexRow], list[KeyBatchRow]]:
    """Index rows and sealed batches for `assignments`, cut from `data` (starting at `consumed`).

    Every slave gets its own batches (each slave's copy is deleted independently).
    """
    index: list[KeyIndexRow] = []
    batches: list[KeyBatchRow] = []
    for first in range(0, len(assignments), KEYS_PER_BATCH):
        chunk = assignments[first : first + KEYS_PER_BATCH]
        entries = [
            (a.key_id, data[a.offset - consumed : a.offset - consumed + a.length]) for a in chunk
        ]
        plain = encode_key_batch(entries)
        for slave in slave_sae_ids:
            batch_id = new_batch_id()
            sealed = batch.seal(key_batch_aad(batch_id, master_sae_id, slave), plain)
            batches.append((batch_id, slave, master_sae_id, len(chunk), sealed))
            index.extend((a.key_id, slave, master_sae_id, batch_id) for a in chunk)
    return index, batches


@dataclass(frozen=True, slots=True)
class TakeCheck:
    """A `take` request checked against the index rows: where each key is, what rows change."""

    batch_of: dict[str, str]
    """The batch holding this slave's copy of each requested key."""
    delete_ids: list[str]
    """Keys whose last undelivered copy this take delivers: every index row of them goes."""
    clear_ids: list[str]
    """Keys other slaves still have to fetch: only this slave's row is cleared (it stays as a
    marker, so a repeat is "already delivered" and a stranger "not entitled")."""


def check_take(
    key_ids: Sequence[str],
    master_sae_id: str,
    slave_sae_id: str,
    rows: Iterable[tuple[str, str, str, str | None]],
) -> TakeCheck:
    """Check a request against every index row (key_id, slave, master, batch_id or None).

    Raises:
        KeyIdError: a key is unknown or already delivered to this slave.
        KeyNotEntitledError: every key is known, but one was assigned for another master/slave
            pair (ETSI GS QKD 014 clause 5.4: the KME answers 401).
    """
    mine: dict[str, tuple[str, str | None]] = {}
    pending_elsewhere: set[str] = set()
    known: set[str] = set()
    for key_id, slave, master, batch_id in rows:
        known.add(key_id)
        if slave == slave_sae_id:
            mine[key_id] = (master, batch_id)
        elif batch_id is not None:
            pending_elsewhere.add(key_id)
    entitled = True
    batch_of: dict[str, str] = {}
    for key_id in key_ids:
        if key_id not in known:
            raise KeyIdError("key ID unknown or already delivered")
        row = mine.get(key_id)
        if row is None:
            entitled = False
            continue
        if row[1] is None:
            raise KeyIdError("key ID unknown or already delivered")
        entitled = entitled and row[0] == master_sae_id
        batch_of[key_id] = row[1]
    if not entitled:
        raise KeyNotEntitledError("key ID was assigned for another master/slave pair")
    return TakeCheck(
        batch_of,
        [k for k in key_ids if k not in pending_elsewhere],
        [k for k in key_ids if k in pending_elsewhere],
    )


@dataclass(frozen=True, slots=True)
class TakeResult:
    """The keys a `take` delivers and how it rewrites the batches they came from."""

    delivered: list[tuple[str, bytes]] = field(repr=False)
    """(key_id, material) in request order."""
    resealed: list[ResealedBatch] = field(repr=False)
    """Batches that keep undelivered keys, re-sealed without the delivered ones."""
    emptied: list[str]
    """Batches whose every key is now delivered: deleted."""


def open_take(
    sealer: Sealer,
    key_ids: Sequence[str],
    master_sae_id: str,
    slave_sae_id: str,
    check: TakeCheck,
    blobs: Mapping[str, bytes],
) -> TakeResult:
    """Open the batches (batch_id -> sealed) a checked take needs; cut out the delivered keys.

    Raises:
        KeyStoreError: a batch is missing, fails authentication, or does not hold a key its
            index row points to it for (a tampered or inconsistent store).
    """
    opened: dict[str, dict[str, bytes]] = {}
    for batch_id in dict.fromkeys(check.batch_of.values()):
        blob = blobs.get(batch_id)
        if blob is None:
            raise KeyStoreError("stored key batch is missing")
        aad = key_batch_aad(batch_id, master_sae_id, slave_sae_id)
        opened[batch_id] = decode_key_batch(sealer.open(aad, blob))
    delivered: list[tuple[str, bytes]] = []
    for key_id in key_ids:
        material = opened[check.batch_of[key_id]].pop(key_id, None)
        if material is None:
            raise KeyStoreError("stored key batch is inconsistent")
        delivered.append((key_id, material))
    resealed: list[ResealedBatch] = []
    emptied: list[str] = []
    reseal = sealer.batch().seal
    for batch_id, remaining in opened.items():
        if remaining:
            aad = key_batch_aad(batch_id, master_sae_id, slave_sae_id)
            sealed = reseal(aad, encode_key_batch(remaining.items()))
            resealed.append((batch_id, len(remaining), sealed))
        else:
            emptied.append(batch_id)
    return TakeResult(delivered, resealed, emptied)
