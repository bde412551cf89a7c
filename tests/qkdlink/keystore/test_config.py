"""Store configs validate when built; `open_key_store` opens the store a config describes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import psycopg
import pytest

from qkdlink.errors import ConfigurationError, KeyStoreError
from qkdlink.keysource import TestKeySource
from qkdlink.keystore import (
    PostgresKeyStore,
    PostgresStoreConfig,
    SqliteKeyStore,
    SqliteStoreConfig,
    create_master_key_file,
    open_key_store,
)
from tests.qkdlink.keystore.conftest import POSTGRES_DSN


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    create_master_key_file(path)
    return path


def test_configs_validate_on_construction(tmp_path: Path, key_file: Path) -> None:
    with pytest.raises(ConfigurationError):
        SqliteStoreConfig(tmp_path, key_file)  # a directory
    with pytest.raises(ConfigurationError):
        SqliteStoreConfig(tmp_path / "k.db", key_file, busy_timeout_s=-1)
    for bad in ("", "Public", "a-b", "x; DROP TABLE t", "1abc", "a" * 64):
        with pytest.raises(ConfigurationError):
            PostgresStoreConfig("host=127.0.0.1", key_file, schema=bad)
    with pytest.raises(ConfigurationError):
        PostgresKeyStore("host=127.0.0.1", master_key=bytes(32), schema="x -c role=admin")
    with pytest.raises(ConfigurationError):
        PostgresStoreConfig(" ", key_file)
    with pytest.raises(ConfigurationError):
        PostgresStoreConfig("host=127.0.0.1", key_file, min_connections=3, max_connections=2)
    secret_dsn = PostgresStoreConfig("host=127.0.0.1 password=hunter2", key_file)
    assert "hunter2" not in repr(secret_dsn)
    config = SqliteStoreConfig(str(tmp_path / "k.db"), str(key_file))  # type: ignore[arg-type]
    assert config.path == tmp_path / "k.db"
    assert config.master_key_file == key_file


async def test_open_key_store_sqlite_round_trip(tmp_path: Path, key_file: Path) -> None:
    store = await open_key_store(SqliteStoreConfig(tmp_path / "k.db", key_file))
    assert isinstance(store, SqliteKeyStore)
    try:
        source = TestKeySource("l", block_bytes=32)
        await store.ingest("l", [source.block(0)])
        assert (await store.reserve("l", 0, [32]))[0].material == source.block(0).material
        names = [n for n in os.listdir(tmp_path) if n.startswith("k.db")]
        assert set(names) == {"k.db", "k.db-wal", "k.db-shm"}
        for name in names:
            assert os.stat(tmp_path / name).st_mode & 0o777 == 0o600, name
    finally:
        await store.aclose()


async def test_open_key_store_refuses_a_lax_master_key_file(tmp_path: Path, key_file: Path) -> None:
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigurationError):
        await open_key_store(SqliteStoreConfig(tmp_path / "k.db", key_file))
    assert not (tmp_path / "k.db").exists()


@pytest.mark.network
async def test_open_key_store_postgres_creates_its_schema(key_file: Path) -> None:
    schema = f"qkdtest_{secrets.token_hex(6)}"
    store = await open_key_store(PostgresStoreConfig(POSTGRES_DSN, key_file, schema=schema))
    try:
        assert isinstance(store, PostgresKeyStore)
        assert await store.stored_key_count("M", "S") == 0
    finally:
        await store.aclose()
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchall()
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    assert rows == [(1,)]


@pytest.mark.network
async def test_unreachable_postgres_is_a_key_store_error(key_file: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    config = PostgresStoreConfig(
        "host=127.0.0.1 port=9 user=postgres dbname=test", key_file, connect_timeout_s=1.0
    )
    with pytest.raises(KeyStoreError):
        await open_key_store(config)


async def test_stores_refuse_calls_when_not_open(tmp_path: Path) -> None:
    store = SqliteKeyStore(tmp_path / "k.db", master_key=bytes(32))
    with pytest.raises(KeyStoreError, match="not open"):
        await store.pool_bytes("l", 0)
    async with store:
        assert await store.pool_bytes("l", 0) == 0
    await store.aclose()  # twice is fine
    pg = PostgresKeyStore(POSTGRES_DSN + " password=hunter2", master_key=bytes(32))
    assert "hunter2" not in repr(pg)
    with pytest.raises(KeyStoreError, match="not open"):
        await pg.take("M", "S", ["k"])
