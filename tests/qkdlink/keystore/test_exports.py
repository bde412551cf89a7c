"""The public surface of `qkdlink.keystore` is pinned; psycopg loads only when asked for."""

from __future__ import annotations

import subprocess
import sys

import qkdlink.keystore

EXPORTS = {
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
}


def test_exports_are_pinned_and_resolve() -> None:
    assert set(qkdlink.keystore.__all__) == EXPORTS
    for name in EXPORTS:
        assert getattr(qkdlink.keystore, name) is not None


def test_importing_the_package_does_not_import_psycopg() -> None:
    code = "import sys, qkdlink.keystore; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
