"""`PostgresKeyStore`: one PostgreSQL schema shared by several replicas of one KME.

Replicas behind one address run the same calls on the same rows, so every consuming call locks
the partition's watermark row (`SELECT ... FOR UPDATE`) before reading it: calls on one partition
are serialized across replicas, and each sees the previous call's committed watermark (READ
COMMITTED re-reads a row after waiting for its lock; PostgreSQL docs 13.2.1). `take` locks the
key's rows `FOR UPDATE` before deleting them: of two replicas taking the same key, the second
waits for the first's row locks and then finds the copy gone, so it fails with `KeyIdError`.
A commit returns only once the WAL is flushed (synchronous_commit = on, set per connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from qkdlink.errors import KeyIdError, KeyStoreError
from qkdlink.keysource import KeyBlock
from qkdlink.keystore._base import Allocation
from qkdlink.keystore._checked import ALREADY_ASSIGNED, AssignRequest, CheckedKeyStore
from qkdlink.keystore._config import check_schema_name
from qkdlink.keystore._key_batch import check_take, open_take, seal_key_batches
from qkdlink.keystore._sealing import Sealer, check_canary, make_canary
from qkdlink.keystore._stream import (
    PARTITIONS,
    allocations,
    check_assignments,
    check_reserve,
    consume,
    place_blocks,
)

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS qkd_meta (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS qkd_links (
    link_id TEXT PRIMARY KEY,
    next_block_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS qkd_partitions (
    link_id TEXT NOT NULL,
    partition SMALLINT NOT NULL,
    ingested_end BIGINT NOT NULL,
    consumed BIGINT NOT NULL,
    PRIMARY KEY (link_id, partition)
);
CREATE TABLE IF NOT EXISTS qkd_blocks (
    link_id TEXT NOT NULL,
    partition SMALLINT NOT NULL,
    start BIGINT NOT NULL,
    block_id BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (link_id, partition, start)
);
CREATE TABLE IF NOT EXISTS qkd_key_batches (
    batch_id TEXT PRIMARY KEY,
    slave_sae_id TEXT NOT NULL,
    master_sae_id TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    sealed BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS qkd_key_batches_by_pair ON qkd_key_batches (slave_sae_id, master_sae_id);
CREATE TABLE IF NOT EXISTS qkd_keys (
    key_id TEXT NOT NULL,
    slave_sae_id TEXT NOT NULL,
    master_sae_id TEXT NOT NULL,
    batch_id TEXT,
    PRIMARY KEY (key_id, slave_sae_id)
);
"""

# Transient conflicts PostgreSQL asks the client to retry (docs 13.4); our lock order makes them
# unexpected, but a retry is always safe because the failed transaction applied nothing.
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_ATTEMPTS = 3

# Sealing or opening this many keys takes about a millisecond: do it on a worker thread so the
# KME's event loop keeps serving other requests meanwhile; smaller batches stay inline.
_OFFLOAD_ITEMS = 256


async def _cpu(items: int, fn: Callable[..., T], *args: Any) -> T:
    if items >= _OFFLOAD_ITEMS:
        return await asyncio.to_thread(fn, *args)
    return fn(*args)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> tuple[list[Any], ...]:
    """The rows as `width` column lists: the parameters of an `unnest(...)` bulk statement."""
    return tuple([row[i] for row in rows] for i in range(width))


class PostgresKeyStore(CheckedKeyStore):
    """A `KeyStore` in a PostgreSQL schema; safe for several replicas (instances) at once."""

    def __init__(
        self,
        dsn: str,
        *,
        master_key: bytes,
        schema: str = "qkdlink",
        min_connections: int = 1,
        max_connections: int = 8,
        connect_timeout_s: float = 10.0,
    ) -> None:
        check_schema_name(schema)
        self._dsn = dsn
        self._schema = schema
        self._sealer = Sealer(master_key)
        self._min = min_connections
        self._max = max_connections
        self._timeout = connect_timeout_s
        self._pool: AsyncConnectionPool[Conn] | None = None

    def __repr__(self) -> str:
        # The DSN may carry a password: show the schema only.
        return f"PostgresKeyStore(schema={self._schema!r})"

    # --- plumbing ---------------------------------------------------------------------------

    async def _tx(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `fn(conn, *args)` in one transaction; commit, or roll back on any error."""
        if self._pool is None:
            raise KeyStoreError("key store is not open")
        for attempt in range(_ATTEMPTS):
            try:
                async with (
                    self._pool.connection(timeout=self._timeout) as conn,
                    conn.transaction(),
                ):
                    return await fn(conn, *args)
            except _RETRYABLE as exc:
                if attempt == _ATTEMPTS - 1:
                    raise KeyStoreError("key store transaction kept conflicting") from exc
            except PoolTimeout as exc:
                raise KeyStoreError("no PostgreSQL connection available") from exc
            except psycopg.Error as exc:
                raise KeyStoreError("key store operation failed") from exc
        raise KeyStoreError("key store transaction kept conflicting")  # pragma: no cover

    async def _scalar(self, query: str, params: tuple[object, ...]) -> int:
        async def read(conn: Conn) -> int:
            row = await (await conn.execute(query, params)).fetchone()
            return int(row[0]) if row is not None and row[0] is not None else 0

        return await self._tx(read)

    # --- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect the pool, create the schema if needed and check the master key.

        Raises:
            KeyStoreError: PostgreSQL is unreachable or the store was created under another
                master key.
        """
        if self._pool is not None:
            raise KeyStoreError("key store is already open")
        # The schema name was checked to be a plain identifier (constructor), so it is safe
        # inside the options string; every connection then resolves tables in it only.
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            self._dsn,
            min_size=self._min,
            max_size=self._max,
            kwargs={"options": f"-c search_path={self._schema} -c synchronous_commit=on"},
            timeout=self._timeout,
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise KeyStoreError("cannot connect to PostgreSQL") from exc
        self._pool = pool
        try:
            await self._tx(self._ensure_schema)
        except BaseException:
            await self.aclose()
            raise

    async def _ensure_schema(self, conn: Conn) -> None:
        # Replicas may start together: one advisory lock makes schema creation run once.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('qkdlink-keystore-schema'))")
        await conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema))
        )
        for statement in _SCHEMA.split(";"):
            await conn.execute(sql.SQL(statement))
        await conn.execute(
            "INSERT INTO qkd_meta (name, value) VALUES ('canary', %s) ON CONFLICT DO NOTHING",
            (make_canary(self._sealer),),
        )
        row = await (
            await conn.execute("SELECT value FROM qkd_meta WHERE name = 'canary'")
        ).fetchone()
        check_canary(self._sealer, bytes(row[0]) if row else b"")
        # A schema of qkdlink's first layout (keys sealed one by one, no key batches) has no
        # migration: refuse it rather than fail on every call.
        batched = await (
            await conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = 'qkd_keys' AND column_name = 'batch_id'"
            )
        ).fetchone()
        if batched is None:
            raise KeyStoreError("key store schema version 1 is not supported")

    async def aclose(self) -> None:
        """Close the connection pool; safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    # --- raw blocks -----------------------------------------------------------------------------

    async def _ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        await self._tx(self._ingest_tx, link_id, blocks)

    async def _ingest_tx(self, conn: Conn, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        await conn.execute(
            "INSERT INTO qkd_links (link_id, next_block_id) VALUES (%s, 0) ON CONFLICT DO NOTHING",
            (link_id,),
        )
        await conn.execute(
            "INSERT INTO qkd_partitions (link_id, partition, ingested_end, consumed)"
            " SELECT %s, p, 0, 0 FROM unnest(%s::smallint[]) AS p ON CONFLICT DO NOTHING",
            (link_id, list(PARTITIONS)),
        )
        # Lock order everywhere: link row, then partition rows (no deadlock with reserve/assign,
        # which lock one partition row only).
        row = await (
            await conn.execute(
                "SELECT next_block_id FROM qkd_links WHERE link_id = %s FOR UPDATE", (link_id,)
            )
        ).fetchone()
        next_id = int(row[0]) if row else 0
        ends = {p: 0 for p in PARTITIONS}
        cursor = await conn.execute(
            "SELECT partition, ingested_end FROM qkd_partitions WHERE link_id = %s"
            " ORDER BY partition FOR UPDATE",
            (link_id,),
        )
        for partition, end in await cursor.fetchall():
            ends[int(partition)] = int(end)
        placed, new_next = place_blocks(self._sealer, link_id, blocks, next_id, ends)
        if new_next == next_id:
            return
        if placed:
            await conn.execute(
                "INSERT INTO qkd_blocks (link_id, partition, start, block_id, sealed)"
                " SELECT %s, * FROM unnest("
                "%s::smallint[], %s::bigint[], %s::bigint[], %s::bytea[])",
                (
                    link_id,
                    [b.partition for b in placed],
                    [b.start for b in placed],
                    [b.block_id for b in placed],
                    [b.sealed for b in placed],
                ),
            )
        await conn.execute(
            "UPDATE qkd_links SET next_block_id = %s WHERE link_id = %s", (new_next, link_id)
        )
        for partition in PARTITIONS:
            await conn.execute(
                "UPDATE qkd_partitions SET ingested_end = %s WHERE link_id = %s AND partition = %s",
                (ends[partition], link_id, partition),
            )

    async def _next_block_id(self, link_id: str) -> int:
        query = "SELECT next_block_id FROM qkd_links WHERE link_id = %s"
        return await self._scalar(query, (link_id,))

    async def _pool_bytes(self, link_id: str, partition: int) -> int:
        query = (
            "SELECT ingested_end - consumed FROM qkd_partitions"
            " WHERE link_id = %s AND partition = %s"
        )
        return await self._scalar(query, (link_id, partition))

    @staticmethod
    async def _lock_watermark(conn: Conn, link_id: str, partition: int) -> tuple[int, int]:
        row = await (
            await conn.execute(
                "SELECT consumed, ingested_end FROM qkd_partitions"
                " WHERE link_id = %s AND partition = %s FOR UPDATE",
                (link_id, partition),
            )
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def _consume(
        self, conn: Conn, link_id: str, partition: int, consumed: int, end: int
    ) -> bytes:
        cursor = await conn.execute(
            "DELETE FROM qkd_blocks WHERE link_id = %s AND partition = %s AND start < %s"
            " RETURNING block_id, start, sealed",
            (link_id, partition, end),
        )
        rows = sorted(
            ((int(b), int(s), bytes(x)) for b, s, x in await cursor.fetchall()),
            key=lambda r: r[1],
        )
        result = consume(self._sealer, link_id, partition, rows, consumed, end)
        if result.remainder is not None:
            r = result.remainder
            await conn.execute(
                "INSERT INTO qkd_blocks (link_id, partition, start, block_id, sealed)"
                " VALUES (%s, %s, %s, %s, %s)",
                (link_id, partition, r.start, r.block_id, r.sealed),
            )
        await conn.execute(
            "UPDATE qkd_partitions SET consumed = %s WHERE link_id = %s AND partition = %s",
            (end, link_id, partition),
        )
        return result.data

    # --- master side ----------------------------------------------------------------------------

    async def _reserve(
        self, link_id: str, partition: int, lengths: Sequence[int], total: int
    ) -> list[Allocation]:
        return await self._tx(self._reserve_tx, link_id, partition, lengths, total)

    async def _reserve_tx(
        self, conn: Conn, link_id: str, partition: int, lengths: Sequence[int], total: int
    ) -> list[Allocation]:
        consumed, ingested_end = await self._lock_watermark(conn, link_id, partition)
        end = check_reserve(total, consumed, ingested_end)
        data = await self._consume(conn, link_id, partition, consumed, end)
        return allocations(data, consumed, lengths)

    # --- peer side ------------------------------------------------------------------------------

    async def _assign(self, request: AssignRequest) -> None:
        try:
            await self._tx(self._assign_tx, request)
        except KeyStoreError as exc:
            # Another replica inserted one of these key IDs first: as for a known ID.
            if isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
                raise KeyIdError(ALREADY_ASSIGNED) from None
            raise

    async def _assign_tx(self, conn: Conn, request: AssignRequest) -> None:
        link_id, partition, assignments, master_sae_id, slave_sae_ids = request
        consumed, ingested_end = await self._lock_watermark(conn, link_id, partition)
        end = check_assignments(assignments, consumed, ingested_end)
        known = await (
            await conn.execute(
                "SELECT 1 FROM qkd_keys WHERE key_id = ANY(%s) LIMIT 1",
                ([a.key_id for a in assignments],),
            )
        ).fetchone()
        if known is not None:
            raise KeyIdError(ALREADY_ASSIGNED)
        data = await self._consume(conn, link_id, partition, consumed, end)
        index, batches = await _cpu(
            len(assignments) * len(slave_sae_ids),
            seal_key_batches,
            self._sealer.batch(),
            data,
            consumed,
            assignments,
            master_sae_id,
            slave_sae_ids,
        )
        await conn.execute(
            "INSERT INTO qkd_keys (key_id, slave_sae_id, master_sae_id, batch_id)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[])",
            _columns(index, 4),
        )
        await conn.execute(
            "INSERT INTO qkd_key_batches (batch_id, slave_sae_id, master_sae_id, remaining, sealed)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::bytea[])",
            _columns(batches, 5),
        )

    async def _take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        return await self._tx(self._take_tx, master_sae_id, slave_sae_id, key_ids)

    async def _take_tx(
        self, conn: Conn, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        # Lock every row of these keys (all slaves) in one order: a replica racing for the
        # same key waits here, then re-reads the rows this call deleted or cleared.
        cursor = await conn.execute(
            "SELECT key_id, slave_sae_id, master_sae_id, batch_id FROM qkd_keys"
            " WHERE key_id = ANY(%s) ORDER BY key_id, slave_sae_id FOR UPDATE",
            (list(key_ids),),
        )
        rows = [
            (str(k), str(s), str(m), None if b is None else str(b))
            for k, s, m, b in await cursor.fetchall()
        ]
        check = check_take(key_ids, master_sae_id, slave_sae_id, rows)
        # Then lock the batches, also in one order: a replica delivering *other* keys of the
        # same batch waits here and re-seals the batch as this call left it (no lost update
        # that would bring delivered bytes back). Key rows first, batches second, everywhere.
        cursor = await conn.execute(
            "SELECT batch_id, sealed FROM qkd_key_batches"
            " WHERE batch_id = ANY(%s) ORDER BY batch_id FOR UPDATE",
            (sorted(set(check.batch_of.values())),),
        )
        blobs = {str(b): bytes(x) for b, x in await cursor.fetchall()}
        result = await _cpu(
            len(key_ids),
            open_take,
            self._sealer,
            key_ids,
            master_sae_id,
            slave_sae_id,
            check,
            blobs,
        )
        if check.delete_ids:
            await conn.execute("DELETE FROM qkd_keys WHERE key_id = ANY(%s)", (check.delete_ids,))
        if check.clear_ids:
            await conn.execute(
                "UPDATE qkd_keys SET batch_id = NULL WHERE slave_sae_id = %s AND key_id = ANY(%s)",
                (slave_sae_id, check.clear_ids),
            )
        if result.emptied:
            await conn.execute(
                "DELETE FROM qkd_key_batches WHERE batch_id = ANY(%s)", (result.emptied,)
            )
        if result.resealed:
            await conn.execute(
                "UPDATE qkd_key_batches AS b SET remaining = u.remaining, sealed = u.sealed"
                " FROM unnest(%s::text[], %s::int[], %s::bytea[]) AS u(batch_id, remaining, sealed)"
                " WHERE b.batch_id = u.batch_id",
                _columns(result.resealed, 3),
            )
        return result.delivered

    async def _stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        query = (
            "SELECT sum(remaining) FROM qkd_key_batches"
            " WHERE slave_sae_id = %s AND master_sae_id = %s"
        )
        return await self._scalar(query, (slave_sae_id, master_sae_id))
