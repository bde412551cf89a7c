"""Noise's HKDF (section 4.3) equals RFC 5869 HKDF with the chaining key as salt, empty info."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocols.noise import HASH_FUNCTIONS, HashFunction

ALGORITHMS = {
    "SHA256": hashes.SHA256(),
    "SHA512": hashes.SHA512(),
    "BLAKE2s": hashes.BLAKE2s(32),
    "BLAKE2b": hashes.BLAKE2b(64),
}


@pytest.mark.parametrize("name", sorted(HASH_FUNCTIONS))
@pytest.mark.parametrize("ikm_len", [0, 32, 56])
def test_hkdf_outputs_are_rfc5869_blocks(name: str, ikm_len: int) -> None:
    function = HASH_FUNCTIONS[name]
    chaining_key, ikm = os.urandom(function.hashlen), os.urandom(ikm_len)
    okm = HKDF(ALGORITHMS[name], 3 * function.hashlen, salt=chaining_key, info=b"").derive(ikm)
    n = function.hashlen
    assert function.hkdf2(chaining_key, ikm) == (okm[:n], okm[n : 2 * n])
    assert function.hkdf3(chaining_key, ikm) == (okm[:n], okm[n : 2 * n], okm[2 * n :])


@pytest.mark.parametrize(
    ("name", "reference", "hashlen", "blocklen"),
    [
        ("SHA256", hashlib.sha256, 32, 64),
        ("SHA512", hashlib.sha512, 64, 128),
        ("BLAKE2s", hashlib.blake2s, 32, 64),
        ("BLAKE2b", hashlib.blake2b, 64, 128),
    ],
)
def test_hash_constants_of_section_12(
    name: str, reference: object, hashlen: int, blocklen: int
) -> None:
    function: HashFunction = HASH_FUNCTIONS[name]
    assert (function.hashlen, function.blocklen) == (hashlen, blocklen)
    assert function.hash(b"abc") == reference(b"abc").digest()  # type: ignore[operator]
    assert name in repr(function)
