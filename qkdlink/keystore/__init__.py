"""Durable key stores for KMEs: the `KeyStore` contract, SQLite (embedded) and PostgreSQL."""

from qkdlink.keystore._base import Allocation, KeyAssignment, KeyStore, StoredKey
from qkdlink.keystore._sealing import MASTER_KEY_BYTES, create_master_key_file, load_master_key
from qkdlink.keystore._sqlite import SqliteKeyStore

__all__ = [
    "MASTER_KEY_BYTES",
    "Allocation",
    "KeyAssignment",
    "KeyStore",
    "SqliteKeyStore",
    "StoredKey",
    "create_master_key_file",
    "load_master_key",
]
