"""Durable key stores for KMEs: the `KeyStore` contract, SQLite (embedded) and PostgreSQL."""

from qkdlink.keystore._base import Allocation, KeyAssignment, KeyStore, StoredKey

__all__ = ["Allocation", "KeyAssignment", "KeyStore", "StoredKey"]
