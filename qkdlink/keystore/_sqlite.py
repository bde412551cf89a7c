"""`SqliteKeyStore`: the embedded default, one SQLite file in WAL mode, durable on every commit.

All SQLite work runs on one dedicated worker thread (the connection never leaves it), so the
event loop never blocks on disk and calls are serialized. Mutating calls run in `BEGIN IMMEDIATE`
transactions: the write lock is taken up front, so two processes sharing a file cannot both read
the same watermark and consume the same bytes. Calls queued while the thread is busy share one
transaction, each in its own savepoint (group commit, `_sqlite_worker`): still atomic one by
one, acknowledged only after the shared COMMIT, and one WAL sync for the group.
`synchronous=FULL` in WAL mode syncs the WAL on every commit
(https://www.sqlite.org/pragma.html#pragma_synchronous), so what a call returned survives a
crash or power loss; WAL recovery runs when the file is opened again. Because the WAL keeps
copies of rewritten pages, the worker checkpoints and truncates it at most
`wal_checkpoint_commits` commits or `wal_checkpoint_interval_s` after a write, and at close, so
delivered keys' sealed batches do not stay on disk beside the master key (docs/keystore.md).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from qkdlink.errors import ConfigurationError, KeyIdError, KeyStoreError
from qkdlink.keysource import KeyBlock
from qkdlink.keystore._base import Allocation
from qkdlink.keystore._checked import ALREADY_ASSIGNED, AssignRequest, CheckedKeyStore
from qkdlink.keystore._key_batch import check_take, open_take, seal_key_batches
from qkdlink.keystore._sealing import Sealer, check_canary, make_canary
from qkdlink.keystore._sqlite_worker import SqliteWorker
from qkdlink.keystore._stream import (
    PARTITIONS,
    allocations,
    check_assignments,
    check_reserve,
    consume,
    place_blocks,
)

T = TypeVar("T")

_SCHEMA_VERSION = 2
"""2: deliverable keys sealed in batches (`_key_batch`); 1 sealed each key on its own."""
_SCHEMA = """
CREATE TABLE qkd_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE qkd_links (
    link_id TEXT PRIMARY KEY,
    next_block_id INTEGER NOT NULL
);
CREATE TABLE qkd_partitions (
    link_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    ingested_end INTEGER NOT NULL,
    consumed INTEGER NOT NULL,
    PRIMARY KEY (link_id, partition)
);
CREATE TABLE qkd_blocks (
    link_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    start INTEGER NOT NULL,
    block_id INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (link_id, partition, start)
) WITHOUT ROWID;
CREATE TABLE qkd_key_batches (
    batch_id TEXT PRIMARY KEY,
    slave_sae_id TEXT NOT NULL,
    master_sae_id TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX qkd_key_batches_by_pair ON qkd_key_batches (slave_sae_id, master_sae_id);
CREATE TABLE qkd_keys (
    key_id TEXT NOT NULL,
    slave_sae_id TEXT NOT NULL,
    master_sae_id TEXT NOT NULL,
    batch_id TEXT,
    PRIMARY KEY (key_id, slave_sae_id)
) WITHOUT ROWID;
"""


class SqliteKeyStore(CheckedKeyStore):
    """A `KeyStore` in one SQLite file; key material sealed with AES-256-GCM (see `_sealing`)."""

    def __init__(
        self,
        path: Path | str,
        *,
        master_key: bytes,
        busy_timeout_s: float = 10.0,
        wal_checkpoint_commits: int = 64,
        wal_checkpoint_interval_s: float = 1.0,
    ) -> None:
        if wal_checkpoint_commits < 1 or not wal_checkpoint_interval_s > 0:
            raise ConfigurationError("WAL checkpoint bounds must be positive")
        self._path = Path(path)
        self._sealer = Sealer(master_key)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._checkpoint_commits = wal_checkpoint_commits
        self._checkpoint_interval_s = wal_checkpoint_interval_s
        self._worker: SqliteWorker | None = None
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteKeyStore({str(self._path)!r})"

    # --- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` on the worker thread, outside a transaction."""
        if self._worker is None:
            raise KeyStoreError("key store is not open")
        return await self._worker.call(functools.partial(fn, *args))

    async def _transact(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(conn, *args)` atomically and durably (group-committed with queued calls)."""
        if self._worker is None:
            raise KeyStoreError("key store is not open")
        return await self._worker.transact(lambda conn: fn(conn, *args))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise KeyStoreError("key store is not open")
        return self._conn

    def _write(self, fn: Callable[..., T], *args: object) -> T:
        """On the worker thread: run `fn(conn, *args)` in its own BEGIN IMMEDIATE transaction."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise KeyStoreError("key store transaction could not start") from exc
        try:
            result = fn(conn, *args)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise KeyStoreError("key store write failed") from exc
            raise
        return result

    def _read(self, sql: str, params: tuple[object, ...]) -> int:
        try:
            row = self._connection().execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise KeyStoreError("key store read failed") from exc
        return int(row[0]) if row is not None and row[0] is not None else 0

    # --- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (creating if needed) the database file; WAL recovery happens here.

        Raises:
            KeyStoreError: the file cannot be opened, has an unknown schema, or was created
                under another master key.
        """
        if self._worker is not None:
            raise KeyStoreError("key store is already open")
        self._worker = SqliteWorker(
            self._connection,
            checkpoint_commits=self._checkpoint_commits,
            checkpoint_interval_s=self._checkpoint_interval_s,
        )
        try:
            await self._run(self._open_sync)
        except BaseException:
            await self.aclose()
            raise

    def _open_sync(self) -> None:
        try:
            # Owner-only file: key IDs and SAE names are metadata worth keeping private. SQLite
            # gives the -wal and -shm files the database file's permissions.
            os.close(os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self._path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise KeyStoreError(f"cannot open key store {self._path}") from exc
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise KeyStoreError("key store file cannot use WAL journaling")
            conn.execute("PRAGMA synchronous = FULL")
            # Overwrite freed content with zeros; consumed (sealed) material leaves the file
            # instead of lingering in free pages (https://www.sqlite.org/pragma.html#pragma_secure_delete).
            conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            raise KeyStoreError(f"cannot configure key store {self._path}") from exc
        self._write(self._ensure_schema)

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO qkd_meta (name, value) VALUES ('canary', ?)",
                (make_canary(self._sealer),),
            )
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            return
        if version != _SCHEMA_VERSION:
            # Version 1 (keys sealed one by one) has no migration: drain a KME's pending keys
            # before upgrading it, or start a new store.
            raise KeyStoreError(f"key store schema version {version} is not supported")
        row = conn.execute("SELECT value FROM qkd_meta WHERE name = 'canary'").fetchone()
        check_canary(self._sealer, bytes(row[0]) if row else b"")

    async def aclose(self) -> None:
        """Close the database and stop the worker thread; safe to call twice."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        with contextlib.suppress(sqlite3.Error):
            await worker.call(self._close_sync)
        await worker.stop()

    def _close_sync(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                # Scrub the WAL now rather than rely on SQLite's checkpoint at last close,
                # which another process holding the file open would skip.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

    # --- raw blocks -----------------------------------------------------------------------------

    async def _ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        await self._transact(self._ingest_tx, link_id, blocks)

    def _ingest_tx(
        self, conn: sqlite3.Connection, link_id: str, blocks: Sequence[KeyBlock]
    ) -> None:
        row = conn.execute(
            "SELECT next_block_id FROM qkd_links WHERE link_id = ?", (link_id,)
        ).fetchone()
        next_id = int(row[0]) if row else 0
        ends = {p: 0 for p in PARTITIONS}
        for partition, end in conn.execute(
            "SELECT partition, ingested_end FROM qkd_partitions WHERE link_id = ?", (link_id,)
        ):
            ends[int(partition)] = int(end)
        placed, new_next = place_blocks(self._sealer, link_id, blocks, next_id, ends)
        if new_next == next_id:
            return
        conn.executemany(
            "INSERT INTO qkd_blocks (link_id, partition, start, block_id, sealed)"
            " VALUES (?, ?, ?, ?, ?)",
            [(link_id, b.partition, b.start, b.block_id, b.sealed) for b in placed],
        )
        conn.execute(
            "INSERT INTO qkd_links (link_id, next_block_id) VALUES (?, ?)"
            " ON CONFLICT (link_id) DO UPDATE SET next_block_id = excluded.next_block_id",
            (link_id, new_next),
        )
        conn.executemany(
            "INSERT INTO qkd_partitions (link_id, partition, ingested_end, consumed)"
            " VALUES (?, ?, ?, 0)"
            " ON CONFLICT (link_id, partition) DO UPDATE SET ingested_end = excluded.ingested_end",
            [(link_id, p, ends[p]) for p in PARTITIONS],
        )

    async def _next_block_id(self, link_id: str) -> int:
        sql = "SELECT next_block_id FROM qkd_links WHERE link_id = ?"
        return await self._run(self._read, sql, (link_id,))

    async def _pool_bytes(self, link_id: str, partition: int) -> int:
        sql = (
            "SELECT ingested_end - consumed FROM qkd_partitions WHERE link_id = ? AND partition = ?"
        )
        return await self._run(self._read, sql, (link_id, partition))

    def _watermark(self, conn: sqlite3.Connection, link_id: str, partition: int) -> tuple[int, int]:
        row = conn.execute(
            "SELECT consumed, ingested_end FROM qkd_partitions WHERE link_id = ? AND partition = ?",
            (link_id, partition),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _consume(
        self, conn: sqlite3.Connection, link_id: str, partition: int, consumed: int, end: int
    ) -> bytes:
        rows = conn.execute(
            "SELECT block_id, start, sealed FROM qkd_blocks"
            " WHERE link_id = ? AND partition = ? AND start < ? ORDER BY start",
            (link_id, partition, end),
        )
        result = consume(self._sealer, link_id, partition, rows, consumed, end)
        conn.execute(
            "DELETE FROM qkd_blocks WHERE link_id = ? AND partition = ? AND start < ?",
            (link_id, partition, end),
        )
        if result.remainder is not None:
            r = result.remainder
            conn.execute(
                "INSERT INTO qkd_blocks (link_id, partition, start, block_id, sealed)"
                " VALUES (?, ?, ?, ?, ?)",
                (link_id, partition, r.start, r.block_id, r.sealed),
            )
        conn.execute(
            "UPDATE qkd_partitions SET consumed = ? WHERE link_id = ? AND partition = ?",
            (end, link_id, partition),
        )
        return result.data

    # --- master side ----------------------------------------------------------------------------

    async def _reserve(
        self, link_id: str, partition: int, lengths: Sequence[int], total: int
    ) -> list[Allocation]:
        return await self._transact(self._reserve_tx, link_id, partition, lengths, total)

    def _reserve_tx(
        self,
        conn: sqlite3.Connection,
        link_id: str,
        partition: int,
        lengths: Sequence[int],
        total: int,
    ) -> list[Allocation]:
        consumed, ingested_end = self._watermark(conn, link_id, partition)
        end = check_reserve(total, consumed, ingested_end)
        data = self._consume(conn, link_id, partition, consumed, end)
        return allocations(data, consumed, lengths)

    # --- peer side ------------------------------------------------------------------------------

    async def _assign(self, request: AssignRequest) -> None:
        await self._transact(self._assign_tx, request)

    def _assign_tx(self, conn: sqlite3.Connection, request: AssignRequest) -> None:
        link_id, partition, assignments, master_sae_id, slave_sae_ids = request
        consumed, ingested_end = self._watermark(conn, link_id, partition)
        end = check_assignments(assignments, consumed, ingested_end)
        if self._any_known(conn, [a.key_id for a in assignments]):
            raise KeyIdError(ALREADY_ASSIGNED)
        data = self._consume(conn, link_id, partition, consumed, end)
        index, batches = seal_key_batches(
            self._sealer.batch(), data, consumed, assignments, master_sae_id, slave_sae_ids
        )
        try:
            conn.executemany(
                "INSERT INTO qkd_keys (key_id, slave_sae_id, master_sae_id, batch_id)"
                " VALUES (?, ?, ?, ?)",
                index,
            )
        except sqlite3.IntegrityError as exc:
            raise KeyIdError(ALREADY_ASSIGNED) from exc
        conn.executemany(
            "INSERT INTO qkd_key_batches (batch_id, slave_sae_id, master_sae_id, remaining, sealed)"
            " VALUES (?, ?, ?, ?, ?)",
            batches,
        )

    @staticmethod
    def _any_known(conn: sqlite3.Connection, key_ids: Sequence[str]) -> bool:
        row = conn.execute(
            "SELECT 1 FROM qkd_keys WHERE key_id IN (SELECT value FROM json_each(?)) LIMIT 1",
            (json.dumps(list(key_ids)),),
        ).fetchone()
        return row is not None

    async def _take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        return await self._transact(self._take_tx, master_sae_id, slave_sae_id, key_ids)

    def _take_tx(
        self,
        conn: sqlite3.Connection,
        master_sae_id: str,
        slave_sae_id: str,
        key_ids: Sequence[str],
    ) -> list[tuple[str, bytes]]:
        ids_json = json.dumps(list(key_ids))
        rows = conn.execute(
            "SELECT key_id, slave_sae_id, master_sae_id, batch_id FROM qkd_keys"
            " WHERE key_id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        ).fetchall()
        check = check_take(key_ids, master_sae_id, slave_sae_id, rows)
        blobs = conn.execute(
            "SELECT batch_id, sealed FROM qkd_key_batches"
            " WHERE batch_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(set(check.batch_of.values()))),),
        ).fetchall()
        result = open_take(
            self._sealer,
            key_ids,
            master_sae_id,
            slave_sae_id,
            check,
            {batch_id: bytes(sealed) for batch_id, sealed in blobs},
        )
        if check.delete_ids:
            conn.execute(
                "DELETE FROM qkd_keys WHERE key_id IN (SELECT value FROM json_each(?))",
                # Usually every requested key goes: reuse the request's JSON then.
                (ids_json if not check.clear_ids else json.dumps(check.delete_ids),),
            )
        if check.clear_ids:
            conn.execute(
                "UPDATE qkd_keys SET batch_id = NULL WHERE slave_sae_id = ?"
                " AND key_id IN (SELECT value FROM json_each(?))",
                (slave_sae_id, json.dumps(check.clear_ids)),
            )
        # The delivered keys leave storage in this transaction (secure_delete zeroes the cells).
        if result.emptied:
            conn.execute(
                "DELETE FROM qkd_key_batches WHERE batch_id IN (SELECT value FROM json_each(?))",
                (json.dumps(result.emptied),),
            )
        if result.resealed:
            conn.executemany(
                "UPDATE qkd_key_batches SET remaining = ?, sealed = ? WHERE batch_id = ?",
                [(count, sealed, batch_id) for batch_id, count, sealed in result.resealed],
            )
        return result.delivered

    async def _stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        sql = (
            "SELECT sum(remaining) FROM qkd_key_batches"
            " WHERE slave_sae_id = ? AND master_sae_id = ?"
        )
        return await self._run(self._read, sql, (slave_sae_id, master_sae_id))
