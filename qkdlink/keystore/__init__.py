"""Durable key stores for KMEs: the `KeyStore` contract, SQLite (embedded) and PostgreSQL."""

from typing import TYPE_CHECKING

from qkdlink.keystore._base import Allocation, KeyAssignment, KeyStore, StoredKey
from qkdlink.keystore._config import (
    PostgresStoreConfig,
    SqliteStoreConfig,
    StoreConfig,
    key_store_from_config,
    open_key_store,
)
from qkdlink.keystore._sealing import MASTER_KEY_BYTES, create_master_key_file, load_master_key
from qkdlink.keystore._sqlite import SqliteKeyStore

if TYPE_CHECKING:
    from qkdlink.keystore._postgres import PostgresKeyStore

__all__ = [
    "MASTER_KEY_BYTES",
    "Allocation",
    "KeyAssignment",
    "KeyStore",
    "PostgresKeyStore",
    "PostgresStoreConfig",
    "SqliteKeyStore",
    "SqliteStoreConfig",
    "StoreConfig",
    "StoredKey",
    "create_master_key_file",
    "key_store_from_config",
    "load_master_key",
    "open_key_store",
]


def __getattr__(name: str) -> object:
    # psycopg is the optional `postgres` extra: import it only when the class is asked for.
    if name == "PostgresKeyStore":
        from qkdlink.keystore._postgres import PostgresKeyStore

        return PostgresKeyStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
