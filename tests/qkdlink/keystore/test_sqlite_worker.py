"""The SQLite worker thread: group commit keeps each call atomic and acknowledges after COMMIT."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from qkdlink.errors import KeyStoreError
from qkdlink.keystore._sqlite_worker import SqliteWorker


class Db:
    """A connection made on the worker thread, counting the COMMITs it executes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.commits = 0

    def connect(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
        conn.set_trace_callback(self._trace)
        self.conn = conn

    def _trace(self, statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            self.commits += 1

    def get(self) -> sqlite3.Connection:
        if self.conn is None:
            raise KeyStoreError("not connected")
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def values(self) -> list[int]:
        conn = sqlite3.connect(self.path)
        try:
            return [v for (v,) in conn.execute("SELECT v FROM t ORDER BY v")]
        finally:
            conn.close()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[Db, SqliteWorker]]:
    database = Db(tmp_path / "w.db")
    worker = SqliteWorker(database.get)
    await worker.call(database.connect)
    try:
        yield database, worker
    finally:
        await worker.call(database.close)
        await worker.stop()


def insert(value: int, fail: bool = False) -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        conn.execute("INSERT INTO t (v) VALUES (?)", (value + 1000,))
        if fail:
            raise ValueError(f"job {value} refuses")
        return value

    return job


async def test_queued_calls_share_commits_and_fail_alone(db: tuple[Db, SqliteWorker]) -> None:
    database, worker = db
    jobs = [worker.transact(insert(i, fail=i % 7 == 3)) for i in range(60)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 7 == 3:
            assert isinstance(result, ValueError)
        else:
            assert result == i
    ok = [i for i in range(60) if i % 7 != 3]
    # Each call is atomic: a failed call left neither of its two rows; the others both.
    assert database.values() == sorted(ok + [i + 1000 for i in ok])
    assert database.commits < 20  # grouped: far fewer syncs than calls


async def test_a_sqlite_error_in_a_call_is_a_key_store_error(db: tuple[Db, SqliteWorker]) -> None:
    _, worker = db
    await worker.transact(insert(1))
    with pytest.raises(KeyStoreError) as info:
        await worker.transact(insert(1))  # duplicate primary key
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert await worker.transact(insert(2)) == 2


async def test_a_cancelled_caller_does_not_stop_the_worker(db: tuple[Db, SqliteWorker]) -> None:
    database, worker = db
    task = asyncio.create_task(worker.transact(insert(5)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await worker.transact(insert(6)) == 6
    assert 6 in database.values()


async def test_direct_calls_run_between_transactions(db: tuple[Db, SqliteWorker]) -> None:
    database, worker = db
    results = await asyncio.gather(
        worker.transact(insert(1)),
        worker.call(lambda: database.get().in_transaction),
        worker.transact(insert(2)),
    )
    assert list(results) == [1, False, 2]
