"""The dedicated thread that owns a SQLite connection, with group commit.

Every SQLite call of a store runs on this one thread, so the event loop never blocks on disk
and the connection never changes threads. Transactions queued while the thread is busy are run
together in one `BEGIN IMMEDIATE ... COMMIT`, each inside its own SAVEPOINT: each still applies
entirely or not at all, but a group pays for one WAL sync instead of one per call (group commit,
as databases do for concurrent clients). No caller hears its result before the group's COMMIT
has returned, so every acknowledged result is durable. A group stops growing after
`group_budget_s` of work, so large calls are not held back by a queue of others.

Committed transactions sit in the WAL file until a checkpoint copies them into the database, and
SQLite's `secure_delete` scrubs only the database file: a delivered key's sealed batch would stay
readable in old WAL frames. So the worker runs `PRAGMA wal_checkpoint(TRUNCATE)` (copy back, then
truncate the WAL to zero bytes, https://www.sqlite.org/pragma.html#pragma_wal_checkpoint) once
`checkpoint_commits` groups have committed since the last one, or `checkpoint_interval_s` after
the first of them, whichever comes first; the timer runs even when no further call arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from qkdlink.errors import KeyStoreError

T = TypeVar("T")

_log = logging.getLogger("qkdlink.keystore")


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[..., T]
    transactional: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T] = field(repr=False)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return  # the caller gave up; a committed result is then lost, never repeated
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _as_store_error(exc: BaseException, message: str) -> BaseException:
    if isinstance(exc, sqlite3.Error):
        error = KeyStoreError(message)
        error.__cause__ = exc
        return error
    return exc


class SqliteWorker:
    """Runs jobs on one thread: `call` directly, `transact` in a group-committed transaction."""

    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        *,
        name: str = "qkdlink-sqlite",
        group_budget_s: float = 0.002,
        group_max: int = 64,
        checkpoint_commits: int = 64,
        checkpoint_interval_s: float = 1.0,
    ) -> None:
        self._connection = connection
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._budget = group_budget_s
        self._group_max = group_max
        self._checkpoint_commits = checkpoint_commits
        self._checkpoint_interval = checkpoint_interval_s
        self._unscrubbed = 0  # group commits since the last complete checkpoint
        self._unscrubbed_since = 0.0  # monotonic time of the first of them
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn()` on the worker thread, outside any transaction."""
        return await self._submit(fn, transactional=False)

    async def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` atomically; return once its transaction is durably committed.

        Raises:
            KeyStoreError: SQLite failed; nothing of `fn` applied.
        """
        return await self._submit(fn, transactional=True)

    async def _submit(self, fn: Callable[..., T], *, transactional: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, transactional, loop, future))
        return await future

    async def stop(self) -> None:
        """Finish the queued jobs, then end the thread."""
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    # --- worker thread ---------------------------------------------------------------------

    @staticmethod
    def _deliver(job: _Job[Any], ok: bool, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is already closed
            job.loop.call_soon_threadsafe(_settle, job.future, ok, value)

    def _next_job(self) -> _Job[Any] | None:
        """The next queued job; while commits wait for a checkpoint, wait only until it is due."""
        while self._unscrubbed:
            due = self._unscrubbed_since + self._checkpoint_interval - time.monotonic()
            if due <= 0:
                self._checkpoint()
                continue
            try:
                return self._jobs.get(timeout=due)
            except queue.Empty:
                self._checkpoint()
        return self._jobs.get()

    def _committed(self) -> None:
        """Count a group commit; checkpoint once enough of them wait."""
        if not self._unscrubbed:
            self._unscrubbed_since = time.monotonic()
        self._unscrubbed += 1
        if self._unscrubbed >= self._checkpoint_commits:
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it; retried later if it cannot finish."""
        try:
            conn = self._connection()
        except KeyStoreError:  # closed: closing checkpointed already
            self._unscrubbed = 0
            return
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as exc:
            busy = 1
            _log.warning("key store WAL checkpoint failed: %s", type(exc).__name__)
        if busy:  # another connection reads or writes: try again after another interval
            self._unscrubbed_since = time.monotonic()
        else:
            self._unscrubbed = 0

    def _serve(self) -> None:
        held: _Job[Any] | None = None
        while True:
            job = held if held is not None else self._next_job()
            held = None
            if job is None:
                return
            if not job.transactional:
                try:
                    self._deliver(job, True, job.fn())
                except BaseException as exc:
                    self._deliver(job, False, exc)
                continue
            group = [job]
            stop, held = self._run_group(group)
            if stop:
                return

    def _run_group(self, group: list[_Job[Any]]) -> tuple[bool, _Job[Any] | None]:
        """Run the first job and as many queued transactional ones as the budget allows.

        Returns whether the stop sentinel was met, and a non-transactional job met while
        draining (run next, after this group's commit).
        """
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, KeyStoreError) as exc:
            self._deliver(group[0], False, _as_store_error(exc, "key store busy or unavailable"))
            return False, None
        outcomes: list[tuple[bool, Any]] = []
        stop, held = False, None
        started = time.monotonic()
        try:
            index = 0
            while True:
                outcomes.append(self._run_one(conn, group[index]))
                index += 1
                if len(group) >= self._group_max or time.monotonic() - started >= self._budget:
                    break
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if not nxt.transactional:
                    held = nxt
                    break
                group.append(nxt)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The group as a whole failed (I/O error, disk full): nothing of it applied.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job in group:
                self._deliver(job, False, _as_store_error(exc, "key store write failed"))
            return stop, held
        # Before the results: the call that reaches the commit bound returns a scrubbed WAL.
        self._committed()
        for job, (ok, value) in zip(group, outcomes, strict=True):
            self._deliver(job, ok, value)
        return stop, held

    @staticmethod
    def _run_one(conn: sqlite3.Connection, job: _Job[Any]) -> tuple[bool, Any]:
        """Run one job inside a savepoint; its failure rolls back only its own changes."""
        conn.execute("SAVEPOINT job")
        try:
            result = job.fn(conn)
        except BaseException as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return False, _as_store_error(exc, "key store write failed")
        conn.execute("RELEASE job")
        return True, result
