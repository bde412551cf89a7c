"""A deterministic key source for tests and demos: the same seed gives both ends the same blocks.

NOT secret: anyone with the seed can compute the stream. Labs use it to exercise KMEs without a
QKD device; production uses a device, a pre-shared file or a simulated link.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from qkdlink.errors import ConfigurationError
from qkdlink.keysource._base import KeyBlock


class TestKeySource:
    """Blocks are ChaCha20 keystream (RFC 8439) under SHA-256(seed, link_id), nonce = block_id."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        link_id: str,
        *,
        seed: bytes = b"qkdlink-test-source",
        block_bytes: int = 4096,
        max_blocks: int | None = None,
        rate_bytes_per_s: float | None = None,
    ) -> None:
        if block_bytes <= 0:
            raise ConfigurationError("block_bytes must be positive")
        if rate_bytes_per_s is not None and rate_bytes_per_s <= 0:
            raise ConfigurationError("rate_bytes_per_s must be positive")
        self._link_id = link_id
        self._key = hashlib.sha256(
            b"qkdlink/test-key-source/v1\x00" + seed + b"\x00" + link_id.encode()
        ).digest()
        self._block_bytes = block_bytes
        self._max_blocks = max_blocks
        self._rate = rate_bytes_per_s

    @property
    def link_id(self) -> str:
        return self._link_id

    def block(self, block_id: int) -> KeyBlock:
        """Compute block `block_id` directly (the stream is random-access)."""
        # ChaCha20 in `cryptography` takes a 16-byte nonce: 4-byte counter || 12-byte nonce.
        nonce = (0).to_bytes(4, "little") + block_id.to_bytes(12, "little")
        encryptor = Cipher(algorithms.ChaCha20(self._key, nonce), mode=None).encryptor()
        return KeyBlock(block_id, encryptor.update(bytes(self._block_bytes)))

    async def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        block_id = start
        while self._max_blocks is None or block_id < self._max_blocks:
            if self._rate is not None:
                await asyncio.sleep(self._block_bytes / self._rate)
            yield self.block(block_id)
            block_id += 1

    async def aclose(self) -> None:
        return None
