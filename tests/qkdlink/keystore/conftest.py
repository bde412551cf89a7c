"""One fixture, `backend`, runs the KeyStore contract suite over every store implementation.

`backend.open(name)` opens a store; the same name reaches the same storage (a reopen, or a second
replica), another name a separate store (the peer KME's). Everything is removed afterwards.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest

from qkdlink.keystore import KeyStore, SqliteKeyStore


class Backend(Protocol):
    name: str
    master_key: bytes

    async def open(self, name: str = "a", *, master_key: bytes | None = None) -> KeyStore: ...

    def execute(
        self, name: str, sql: str, params: tuple[object, ...] = ()
    ) -> list[tuple[object, ...]]:
        """Run raw SQL (with `?` placeholders) on a store's storage, outside the store."""
        ...

    def raw_bytes(self, name: str) -> bytes:
        """Every byte the store keeps at rest (files or table rows)."""
        ...


class _Opened:
    def __init__(self, master_key: bytes) -> None:
        self.master_key = master_key
        self.stores: list[KeyStore] = []

    async def close_all(self) -> None:
        for store in self.stores:
            await store.aclose()


class SqliteBackend(_Opened):
    name = "sqlite"

    def __init__(self, directory: Path, master_key: bytes) -> None:
        super().__init__(master_key)
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    async def open(self, name: str = "a", *, master_key: bytes | None = None) -> KeyStore:
        store = SqliteKeyStore(self.path(name), master_key=master_key or self.master_key)
        self.stores.append(store)
        await store.open()
        return store

    def execute(
        self, name: str, sql: str, params: tuple[object, ...] = ()
    ) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.path(name), isolation_level=None)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def raw_bytes(self, name: str) -> bytes:
        return b"".join(
            p.read_bytes() for p in sorted(self.directory.glob(f"{name}.db*")) if p.is_file()
        )


@pytest.fixture(params=["sqlite"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    master_key = secrets.token_bytes(32)
    impl = SqliteBackend(tmp_path, master_key)
    try:
        yield impl
    finally:
        await impl.close_all()
