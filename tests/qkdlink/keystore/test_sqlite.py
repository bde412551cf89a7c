"""SQLite specifics: delivered keys' sealed batches do not linger in the WAL file."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import uuid
from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeyBlock
from qkdlink.keystore import KeyAssignment, SqliteKeyStore, SqliteStoreConfig

LINK = "a--b"
MASTER_KEY = bytes(range(32))


def _sealed_batches(path: Path) -> list[bytes]:
    """The sealed batches as stored now (read outside the store, then closed)."""
    conn = sqlite3.connect(path)
    try:
        return [bytes(row[0]) for row in conn.execute("SELECT sealed FROM qkd_key_batches")]
    finally:
        conn.close()


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def _store(path: Path, *, commits: int, interval_s: float) -> SqliteKeyStore:
    """A store at `path` that scrubs its WAL after `commits` commits or `interval_s` seconds."""
    return SqliteKeyStore(
        path,
        master_key=MASTER_KEY,
        wal_checkpoint_commits=commits,
        wal_checkpoint_interval_s=interval_s,
    )


async def _assign_four(store: SqliteKeyStore) -> list[str]:
    """Ingest two blocks and assign four keys from them (two commits); return the key IDs."""
    blocks = [KeyBlock(i, secrets.token_bytes(1024)) for i in range(2)]
    await store.ingest(LINK, blocks)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    assignments = [KeyAssignment(key_id, 32 * i, 32) for i, key_id in enumerate(ids)]
    await store.assign(LINK, 0, assignments, "SAE_A", ["SAE_B"])
    return ids


async def _deliver_one(store: SqliteKeyStore, path: Path) -> bytes:
    """Assign four keys, deliver one; return the sealed batch that held the delivered key."""
    ids = await _assign_four(store)
    (old_batch,) = _sealed_batches(path)
    await store.take("SAE_A", "SAE_B", ids[:1])
    assert _sealed_batches(path) != [old_batch]  # resealed without the delivered key
    return old_batch


async def test_the_commit_count_bound_scrubs_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    # ingest, assign: two commits, below the bound; the take is the third.
    async with _store(path, commits=3, interval_s=3600) as store:
        ids = await _assign_four(store)
        (old_batch,) = _sealed_batches(path)
        assert old_batch in _wal(path)  # the exposure the checkpoint removes
        await store.take("SAE_A", "SAE_B", ids[:1])
        assert _wal(path) == b""  # truncated
        assert old_batch not in path.read_bytes()


async def test_the_interval_bound_scrubs_the_wal_without_further_calls(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    async with _store(path, commits=1000, interval_s=0.05) as store:
        old_batch = await _deliver_one(store, path)
        for _ in range(200):  # the worker's timer fires on its own; poll for it, 10 s at most
            wal = _wal(path)
            if wal == b"":
                break
            await asyncio.sleep(0.05)
        assert wal == b""
        assert old_batch not in path.read_bytes()


async def test_close_scrubs_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    async with _store(path, commits=1000, interval_s=3600) as store:
        old_batch = await _deliver_one(store, path)
    assert _wal(path) == b""
    assert old_batch not in path.read_bytes()


def test_checkpoint_bounds_are_validated(tmp_path: Path) -> None:
    for bad in ({"wal_checkpoint_commits": 0}, {"wal_checkpoint_interval_s": 0.0}):
        with pytest.raises(ConfigurationError):
            SqliteStoreConfig(path=tmp_path / "k.db", master_key_file=tmp_path / "mk", **bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            SqliteKeyStore(tmp_path / "k.db", master_key=MASTER_KEY, **bad)  # type: ignore[arg-type]
