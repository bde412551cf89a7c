"""The store's value types: immutable, key bytes never in a repr, usable as plain pairs."""

from __future__ import annotations

import pytest

from qkdlink.keystore import Allocation, KeyAssignment, StoredKey

SECRET = bytes.fromhex("8badf00d" * 8)


def test_key_bytes_never_appear_in_repr_or_str() -> None:
    for value in (StoredKey("k1", SECRET), Allocation(64, SECRET)):
        for text in (repr(value), str(value), f"{value}", repr([value])):
            assert SECRET.hex() not in text
            assert repr(SECRET) not in text
            assert "32 bytes" in text


def test_values_are_immutable_and_compare_by_content() -> None:
    key = StoredKey("k1", SECRET)
    with pytest.raises(AttributeError):
        key.material = b""  # type: ignore[misc]
    assert key == StoredKey("k1", SECRET)
    assert KeyAssignment("k", 0, 32) == KeyAssignment("k", 0, 32) != KeyAssignment("k", 0, 16)
    # The KME writes a Key container straight from StoredKeys: each is a (key_id, material) pair.
    key_id, material = key
    assert (key_id, material) == ("k1", SECRET)
