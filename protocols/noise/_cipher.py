"""The `ChaChaPoly` and `AESGCM` cipher functions of Noise rev 34, section 12.3-12.4."""

from __future__ import annotations

from typing import Final, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

__all__ = ["CIPHER_FUNCTIONS", "Aead", "AesGcm", "ChaChaPoly", "CipherFunction"]

MAX_NONCE: Final = 2**64 - 1
"""The nonce reserved for REKEY (section 4.2 and 5.1)."""
_ZEROS32: Final = bytes(32)


class Aead(Protocol):
    """The shape of `cryptography`'s AEAD objects: key bound at construction."""

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class CipherFunction:
    """One set of Noise cipher functions: an AEAD plus the nonce encoding it uses."""

    name: str

    def new(self, key: bytes) -> Aead:
        """The AEAD keyed with a 32-byte key (ENCRYPT/DECRYPT of section 4.2)."""
        raise NotImplementedError

    def nonce(self, n: int) -> bytes:
        """The 96-bit AEAD nonce encoding the 64-bit counter `n`."""
        raise NotImplementedError

    def rekey(self, key: bytes) -> bytes:
        """REKEY(k): the first 32 bytes of ENCRYPT(k, 2**64-1, zerolen, zeros) (section 4.2)."""
        return self.new(key).encrypt(self.nonce(MAX_NONCE), _ZEROS32, b"")[:32]


class ChaChaPoly(CipherFunction):
    """AEAD_CHACHA20_POLY1305 (RFC 8439); nonce = 32 zero bits || little-endian n."""

    name = "ChaChaPoly"

    def new(self, key: bytes) -> Aead:
        return ChaCha20Poly1305(key)

    def nonce(self, n: int) -> bytes:
        return b"\x00\x00\x00\x00" + n.to_bytes(8, "little")


class AesGcm(CipherFunction):
    """AES-256-GCM (NIST SP 800-38D), 128-bit tag; nonce = 32 zero bits || big-endian n."""

    name = "AESGCM"

    def new(self, key: bytes) -> Aead:
        return AESGCM(key)

    def nonce(self, n: int) -> bytes:
        return b"\x00\x00\x00\x00" + n.to_bytes(8, "big")


CIPHER_FUNCTIONS: Final[dict[str, CipherFunction]] = {c.name: c for c in (ChaChaPoly(), AesGcm())}
"""The supported cipher functions by their protocol-name section."""
