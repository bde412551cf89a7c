"""Key store configuration (frozen, validated dataclasses) and the `open_key_store` factory."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from qkdlink.errors import ConfigurationError
from qkdlink.keystore._base import KeyStore
from qkdlink.keystore._sealing import load_master_key

# A plain lower-case SQL identifier: safe to place in search_path without quoting.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(schema: str) -> None:
    """Refuse a schema name that is not a plain identifier (it goes into connection options).

    Raises:
        ConfigurationError: the name is not a lower-case SQL identifier of at most 63 bytes.
    """
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError("schema must be a lower-case SQL identifier")


@dataclass(frozen=True, slots=True)
class SqliteStoreConfig:
    """The embedded store: one SQLite file (its `-wal` and `-shm` files live beside it)."""

    path: Path
    """Database file; created with its schema on first open."""
    master_key_file: Path
    """File with the KME master key (64 hex digits, mode 0600; see `create_master_key_file`)."""
    busy_timeout_s: float = 10.0
    """How long a call waits for another process's write lock before failing."""
    wal_checkpoint_commits: int = 64
    """Checkpoint and truncate the WAL after at most this many commits (scrubs delivered keys'
    old sealed batches from the WAL file; docs/keystore.md)."""
    wal_checkpoint_interval_s: float = 1.0
    """... or at most this long after the first commit since the last checkpoint."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "master_key_file", Path(self.master_key_file))
        if not str(self.path) or self.path.is_dir():
            raise ConfigurationError("SQLite key store path must name a file")
        if self.busy_timeout_s < 0:
            raise ConfigurationError("busy_timeout_s must not be negative")
        if self.wal_checkpoint_commits < 1:
            raise ConfigurationError("wal_checkpoint_commits must be >= 1")
        if not self.wal_checkpoint_interval_s > 0:
            raise ConfigurationError("wal_checkpoint_interval_s must be positive")


@dataclass(frozen=True, slots=True)
class PostgresStoreConfig:
    """A PostgreSQL store shared by several KME replicas of one KME identity."""

    dsn: str = field(repr=False)
    """libpq connection string, e.g. "host=127.0.0.1 dbname=kme user=kme"; may hold a password,
    so it is kept out of the repr."""
    master_key_file: Path
    """File with the KME master key; every replica must use the same one."""
    schema: str = "qkdlink"
    """Schema holding the tables (created if missing); lower-case identifier."""
    min_connections: int = 1
    max_connections: int = 8
    connect_timeout_s: float = 10.0
    """How long a call waits for a pooled connection before failing with `KeyStoreError`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "master_key_file", Path(self.master_key_file))
        if not self.dsn.strip():
            raise ConfigurationError("PostgreSQL dsn must not be empty")
        check_schema_name(self.schema)
        if not 1 <= self.min_connections <= self.max_connections:
            raise ConfigurationError("need 1 <= min_connections <= max_connections")
        if self.connect_timeout_s <= 0:
            raise ConfigurationError("connect_timeout_s must be positive")


StoreConfig = SqliteStoreConfig | PostgresStoreConfig


def key_store_from_config(config: StoreConfig) -> KeyStore:
    """Build the store a config describes (not opened yet); loads the master key file.

    Raises:
        ConfigurationError: the master key file is missing, malformed or too permissive.
    """
    master_key = load_master_key(config.master_key_file)
    if isinstance(config, SqliteStoreConfig):
        from qkdlink.keystore._sqlite import SqliteKeyStore

        return SqliteKeyStore(
            config.path,
            master_key=master_key,
            busy_timeout_s=config.busy_timeout_s,
            wal_checkpoint_commits=config.wal_checkpoint_commits,
            wal_checkpoint_interval_s=config.wal_checkpoint_interval_s,
        )
    from qkdlink.keystore._postgres import PostgresKeyStore

    return PostgresKeyStore(
        config.dsn,
        master_key=master_key,
        schema=config.schema,
        min_connections=config.min_connections,
        max_connections=config.max_connections,
        connect_timeout_s=config.connect_timeout_s,
    )


async def open_key_store(config: StoreConfig) -> KeyStore:
    """Build and open the store a config describes; the caller `aclose()`s it.

    Raises:
        ConfigurationError: the master key file is missing, malformed or too permissive.
        KeyStoreError: the database cannot be opened or was created under another master key.
    """
    store = key_store_from_config(config)
    await store.open()
    return store
