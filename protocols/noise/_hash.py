"""The hash functions of Noise rev 34 (section 12.5-12.8) and its HKDF (section 4.3).

HASH comes from `hashlib`; HMAC-HASH is `cryptography`'s HMAC over the same function. Noise's
HKDF is RFC 5869 HKDF with the chaining key as salt and empty info, but it returns the 2 or 3
HASHLEN-byte outputs separately, so it is written out here from HMAC as section 4.3 defines it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Final, Protocol

from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["HASH_FUNCTIONS", "HashFunction"]


class _Digest(Protocol):
    def digest(self) -> bytes: ...


class HashFunction:
    """HASH, HASHLEN, BLOCKLEN and the HMAC-based HKDF of one Noise hash function."""

    __slots__ = ("_algorithm", "_new", "blocklen", "hashlen", "name")

    def __init__(
        self,
        name: str,
        new: Callable[[bytes], _Digest],
        algorithm: Callable[[], hashes.HashAlgorithm],
        hashlen: int,
        blocklen: int,
    ) -> None:
        self.name = name
        self.hashlen = hashlen
        self.blocklen = blocklen
        self._new = new
        self._algorithm = algorithm()  # immutable descriptor, shared by every HMAC

    def __repr__(self) -> str:
        return f"HashFunction({self.name!r})"

    def hash(self, data: bytes) -> bytes:
        """HASH(data)."""
        return self._new(data).digest()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        """HMAC-HASH(key, data) (RFC 2104)."""
        mac = hmac.HMAC(key, self._algorithm)
        mac.update(data)
        return mac.finalize()

    def hkdf2(self, chaining_key: bytes, ikm: bytes) -> tuple[bytes, bytes]:
        """HKDF(chaining_key, input_key_material, 2) of section 4.3."""
        temp_key = self.hmac(chaining_key, ikm)
        output1 = self.hmac(temp_key, b"\x01")
        output2 = self.hmac(temp_key, output1 + b"\x02")
        return output1, output2

    def hkdf3(self, chaining_key: bytes, ikm: bytes) -> tuple[bytes, bytes, bytes]:
        """HKDF(chaining_key, input_key_material, 3) of section 4.3."""
        temp_key = self.hmac(chaining_key, ikm)
        output1 = self.hmac(temp_key, b"\x01")
        output2 = self.hmac(temp_key, output1 + b"\x02")
        output3 = self.hmac(temp_key, output2 + b"\x03")
        return output1, output2, output3


def _blake2s(data: bytes) -> _Digest:
    return hashlib.blake2s(data, digest_size=32)


def _blake2b(data: bytes) -> _Digest:
    return hashlib.blake2b(data, digest_size=64)


HASH_FUNCTIONS: Final[dict[str, HashFunction]] = {
    h.name: h
    for h in (
        HashFunction("SHA256", hashlib.sha256, hashes.SHA256, 32, 64),
        HashFunction("SHA512", hashlib.sha512, hashes.SHA512, 64, 128),
        HashFunction("BLAKE2s", _blake2s, lambda: hashes.BLAKE2s(32), 32, 64),
        HashFunction("BLAKE2b", _blake2b, lambda: hashes.BLAKE2b(64), 64, 128),
    )
}
"""The supported hash functions by their protocol-name section."""
