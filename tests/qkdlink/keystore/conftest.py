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

import psycopg
import pytest

from qkdlink.keystore import KeyStore, PostgresKeyStore, SqliteKeyStore

# The local test server (HELPERS.md); CI brings it up. No skip when it is missing: tests fail.
POSTGRES_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"


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


class PostgresBackend(_Opened):
    """Each store name gets its own schema, unique to this test run, dropped afterwards."""

    name = "postgres"

    def __init__(self, master_key: bytes) -> None:
        super().__init__(master_key)
        self.prefix = f"qkdtest_{secrets.token_hex(6)}"
        self.schemas: dict[str, str] = {}

    def schema(self, name: str) -> str:
        return self.schemas.setdefault(name, f"{self.prefix}_{len(self.schemas)}")

    async def open(self, name: str = "a", *, master_key: bytes | None = None) -> KeyStore:
        store = PostgresKeyStore(
            POSTGRES_DSN,
            master_key=master_key or self.master_key,
            schema=self.schema(name),
            max_connections=4,
        )
        self.stores.append(store)
        await store.open()
        return store

    def _connect(self, name: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            POSTGRES_DSN, autocommit=True, options=f"-c search_path={self.schema(name)}"
        )

    def execute(
        self, name: str, sql: str, params: tuple[object, ...] = ()
    ) -> list[tuple[object, ...]]:
        with self._connect(name) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def raw_bytes(self, name: str) -> bytes:
        out: list[bytes] = []
        for table in (
            "qkd_meta",
            "qkd_links",
            "qkd_partitions",
            "qkd_blocks",
            "qkd_keys",
            "qkd_key_batches",
        ):
            for row in self.execute(name, f"SELECT * FROM {table}"):
                for value in row:
                    out.append(
                        bytes(value)
                        if isinstance(value, bytes | memoryview)
                        else str(value).encode()
                    )
        return b"".join(out)

    async def close_all(self) -> None:
        await super().close_all()
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            for schema in self.schemas.values():
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.network)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    master_key = secrets.token_bytes(32)
    impl: SqliteBackend | PostgresBackend
    if request.param == "sqlite":
        impl = SqliteBackend(tmp_path, master_key)
    else:
        impl = PostgresBackend(master_key)
    try:
        yield impl
    finally:
        await impl.close_all()
