"""`keystore`, `keystore-postgres`: keys/s through reserve + assign + take in batches of 1,024.

One round moves a batch of 1,024 keys of 256 bits the way a KME pair does: the master's store
`reserve`s them, the peer's store `assign`s the same ranges to a slave, the peer `take`s them.
That is three durable commits on two stores plus AES-256-GCM sealing and opening.

Baseline, run alternately in the same process: the same database engine doing only the minimum
durable work for the same rows, with the same durability settings: one transaction inserting
the 1,024 (key ID, sealed-size blob) rows and one deleting them. Both sides use key IDs made
the way a KME makes them (time-ordered UUIDs). The ratio shows what the store's
bookkeeping and encryption cost over bare storage; the target is the KME's `kme-bulk` figure,
which the store must exceed by a margin to leave time for HTTPS and the peer round trip.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import BenchOptions, Record, compare

BATCH = 1024
KEY_BYTES = 32
SEALED_BYTES = KEY_BYTES + 45  # version, salt, nonce, tag: the size a stored key really has
_TARGET_KPS = 50_000
_TARGET = f">= {_TARGET_KPS:,} keys/s (kme-bulk's target, the store alone)"
_POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"

Cycle = Callable[[], Awaitable[dict[str, float]]]


def _key_ids() -> list[str]:
    """Key IDs as a KME makes them (time-ordered UUIDs, `qkdlink.kme._bulk.new_key_ids`)."""
    from qkdlink.kme._bulk import new_key_ids

    return new_key_ids(BATCH)


def _rows() -> list[tuple[str, bytes]]:
    return [(key_id, secrets.token_bytes(SEALED_BYTES)) for key_id in _key_ids()]


async def _measure(
    cycle: Cycle, baseline: Callable[[list[tuple[str, bytes]]], Awaitable[None]], rounds: int
) -> tuple[dict[str, list[float]], list[float]]:
    """Alternate one store cycle and one baseline cycle per round, timing each.

    Key IDs and the baseline's rows are made before the clock starts on both sides: UUID
    generation is the caller's cost, not storage's.
    """
    phases: dict[str, list[float]] = {}
    base: list[float] = []
    for _ in range(rounds):
        for name, seconds in (await cycle()).items():
            phases.setdefault(name, []).append(seconds)
        rows = _rows()
        start = time.perf_counter()
        await baseline(rows)
        base.append(time.perf_counter() - start)
    return phases, base


async def _store_cycle(master: Any, peer: Any, link: str) -> Cycle:
    """Ingest enough material at both stores, then return one timed batch cycle."""
    from qkdlink.keystore import KeyAssignment

    async def cycle() -> dict[str, float]:
        key_ids = _key_ids()
        t0 = time.perf_counter()
        reserved = await master.reserve(link, 0, [KEY_BYTES] * BATCH)
        t1 = time.perf_counter()
        assignments = [
            KeyAssignment(k, a.offset, len(a.material))
            for k, a in zip(key_ids, reserved, strict=True)
        ]
        await peer.assign(link, 0, assignments, "SAE_A", ["SAE_B"])
        t2 = time.perf_counter()
        taken = await peer.take("SAE_A", "SAE_B", [a.key_id for a in assignments])
        t3 = time.perf_counter()
        if [k.material for k in taken] != [a.material for a in reserved]:
            raise RuntimeError("peer keys differ from the master's")
        return {"reserve": t1 - t0, "assign": t2 - t1, "take": t3 - t2, "cycle": t3 - t0}

    return cycle


async def _ingest(stores: list[Any], link: str, rounds: int) -> None:
    from qkdlink.keysource import TestKeySource

    source = TestKeySource(link, block_bytes=4096)
    # Both partitions fill alternately: 2x the bytes the rounds consume from partition 0.
    count = 2 * (rounds * BATCH * KEY_BYTES // 4096 + 2)
    blocks = [source.block(i) for i in range(count)]
    for store in stores:
        for i in range(0, count, 64):
            await store.ingest(link, blocks[i : i + 64])


def _records(
    benchmark: str, engine: str, phases: dict[str, list[float]], base: list[float]
) -> list[Record]:
    base_s = statistics.median(base)
    cycle_s = statistics.median(phases["cycle"])
    kps, base_kps = BATCH / cycle_s, BATCH / base_s
    records = [
        compare(
            benchmark,
            "keys_per_s_reserve_assign_take",
            kps,
            "keys/s",
            baseline=f"raw {engine} insert + delete of the same rows, 2 commits, same run",
            baseline_value=base_kps,
            target=_TARGET,
            met=kps >= _TARGET_KPS,
        )
    ]
    for phase in ("reserve", "assign", "take"):
        ms = statistics.median(phases[phase]) * 1e3
        records.append(
            compare(
                benchmark,
                f"{phase}_1024_keys_median",
                ms,
                "ms",
                baseline=f"raw {engine} insert + delete of the same rows, 2 commits, same run",
                baseline_value=base_s * 1e3,
                target="a few ms (informative)",
                met=None,
            )
        )
    return records


async def _concurrent_small_calls(store: Any, clients: int) -> Record:
    """Single-key reserves from many concurrent tasks (group commit) vs the same one at a time."""
    from qkdlink.keysource import TestKeySource

    per_client = 10
    source = TestKeySource("small", block_bytes=4096)
    await store.ingest(
        "small", [source.block(i) for i in range(2 * clients * per_client // 64 + 4)]
    )

    async def client() -> None:
        for _ in range(per_client):
            await store.reserve("small", 0, [KEY_BYTES])

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    concurrent = clients * per_client / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(clients * per_client // 4):
        await store.reserve("small", 0, [KEY_BYTES])
    sequential = clients * per_client // 4 / (time.perf_counter() - start)
    return compare(
        "keystore",
        f"single_key_reserves_per_s_{clients}_concurrent",
        concurrent,
        "calls/s",
        baseline="the same store, single-key reserves one at a time (one commit each)",
        baseline_value=sequential,
        target="informative: group commit gain (ratio)",
        met=None,
    )


def bench_keystore(options: BenchOptions) -> list[Record]:
    """SQLite (WAL, synchronous=FULL) store against raw sqlite3 with the same pragmas."""
    from qkdlink.keystore import SqliteKeyStore

    rounds = 5 if options.quick else 40

    async def run(directory: Path) -> list[Record]:
        master = SqliteKeyStore(directory / "master.db", master_key=secrets.token_bytes(32))
        peer = SqliteKeyStore(directory / "peer.db", master_key=secrets.token_bytes(32))
        raw = sqlite3.connect(directory / "raw.db", isolation_level=None)
        try:
            await master.open()
            await peer.open()
            for pragma in ("journal_mode = WAL", "synchronous = FULL", "secure_delete = ON"):
                raw.execute(f"PRAGMA {pragma}")
            raw.execute("CREATE TABLE k (key_id TEXT PRIMARY KEY, sealed BLOB) WITHOUT ROWID")
            await _ingest([master, peer], "bench", rounds + 1)
            cycle = await _store_cycle(master, peer, "bench")
            await cycle()  # warm-up

            async def baseline(rows: list[tuple[str, bytes]]) -> None:
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany("INSERT INTO k VALUES (?, ?)", rows)
                raw.execute("COMMIT")
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany("DELETE FROM k WHERE key_id = ?", [(r[0],) for r in rows])
                raw.execute("COMMIT")

            phases, base = await _measure(cycle, baseline, rounds)
            records = _records("keystore", "sqlite3", phases, base)
            records.append(await _concurrent_small_calls(master, 16 if options.quick else 64))
            return records
        finally:
            raw.close()
            await master.aclose()
            await peer.aclose()

    with tempfile.TemporaryDirectory(prefix="qkdlink-bench-") as directory:
        return asyncio.run(run(Path(directory)))


def bench_keystore_postgres(options: BenchOptions) -> list[Record]:
    """PostgreSQL store against raw psycopg unnest() insert + delete, same server and run."""
    import psycopg

    from qkdlink.keystore import PostgresKeyStore

    rounds = 5 if options.quick else 40
    prefix = f"qkdbench_{secrets.token_hex(4)}"

    async def run() -> list[Record]:
        master = PostgresKeyStore(
            _POSTGRES_DSN, master_key=secrets.token_bytes(32), schema=f"{prefix}_m"
        )
        peer = PostgresKeyStore(
            _POSTGRES_DSN, master_key=secrets.token_bytes(32), schema=f"{prefix}_p"
        )
        raw = await psycopg.AsyncConnection.connect(_POSTGRES_DSN)
        try:
            await master.open()
            await peer.open()
            await raw.execute(f"CREATE TABLE {prefix}_raw (key_id TEXT PRIMARY KEY, sealed BYTEA)")
            await raw.commit()
            await _ingest([master, peer], "bench", rounds + 1)
            cycle = await _store_cycle(master, peer, "bench")
            await cycle()

            async def baseline(rows: list[tuple[str, bytes]]) -> None:
                ids = [r[0] for r in rows]
                await raw.execute(
                    f"INSERT INTO {prefix}_raw SELECT * FROM unnest(%s::text[], %s::bytea[])",
                    (ids, [r[1] for r in rows]),
                )
                await raw.commit()
                await raw.execute(f"DELETE FROM {prefix}_raw WHERE key_id = ANY(%s)", (ids,))
                await raw.commit()

            phases, base = await _measure(cycle, baseline, rounds)
            return _records("keystore-postgres", "psycopg", phases, base)
        finally:
            await master.aclose()
            await peer.aclose()
            for schema_or_table in (f"SCHEMA {prefix}_m", f"SCHEMA {prefix}_p"):
                await raw.execute(f"DROP {schema_or_table} CASCADE")
            await raw.execute(f"DROP TABLE IF EXISTS {prefix}_raw")
            await raw.commit()
            await raw.close()

    return asyncio.run(run())


BENCHMARKS = {"keystore": bench_keystore, "keystore-postgres": bench_keystore_postgres}
