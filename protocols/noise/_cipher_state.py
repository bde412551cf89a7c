"""The Noise `CipherState` (rev 34, section 5.1): a key, a 64-bit nonce, AEAD calls, Rekey."""

from __future__ import annotations

from typing import Final

from cryptography.exceptions import InvalidTag

from protocols.errors import AuthenticationError, LocalProtocolError
from protocols.noise._cipher import MAX_NONCE, Aead, CipherFunction
from protocols.noise._errors import NonceExhaustedError

__all__ = ["CipherState"]

TAG_LEN: Final = 16


class CipherState:
    """Encrypts and decrypts with key `k` and counter nonce `n`; the key never shows in repr."""

    __slots__ = ("_aead", "_cipher", "_key", "_n")

    def __init__(self, cipher: CipherFunction, key: bytes | None = None) -> None:
        self._cipher = cipher
        self._key: bytes | None = None
        self._aead: Aead | None = None
        self._n = 0
        self.initialize_key(key)

    def __repr__(self) -> str:
        return f"<CipherState {self._cipher.name} has_key={self.has_key} n={self._n}>"

    def initialize_key(self, key: bytes | None) -> None:
        """InitializeKey(key): set `k` (None is the spec's `empty`) and reset `n` to zero."""
        if key is not None and len(key) != 32:
            raise LocalProtocolError("cipher keys are 32 bytes")
        self._key = key
        self._aead = None  # built on first use: most handshake keys are never used
        self._n = 0

    @property
    def has_key(self) -> bool:
        """HasKey()."""
        return self._key is not None

    @property
    def nonce(self) -> int:
        """The next nonce `n`."""
        return self._n

    def set_nonce(self, nonce: int) -> None:
        """SetNonce(nonce), for out-of-order transports (section 11.4)."""
        if not 0 <= nonce <= MAX_NONCE:
            raise LocalProtocolError("nonce out of the 64-bit range")
        self._n = nonce

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        """EncryptWithAd(ad, plaintext); plaintext is returned as is while `k` is empty.

        Raises:
            NonceExhaustedError: `n` reached 2**64-1, which is reserved (section 5.1).
        """
        if self._key is None:
            return plaintext
        if self._n >= MAX_NONCE:
            raise NonceExhaustedError("nonce space exhausted; run a new handshake")
        aead = self._aead or self._new_aead(self._key)
        ciphertext = aead.encrypt(self._cipher.nonce(self._n), plaintext, ad)
        self._n += 1
        return ciphertext

    def decrypt_with_ad(self, ad: bytes, ciphertext: bytes) -> bytes:
        """DecryptWithAd(ad, ciphertext); on failure `n` is left unchanged.

        Raises:
            AuthenticationError: the AEAD tag did not verify (one opaque error).
            NonceExhaustedError: `n` reached 2**64-1.
        """
        if self._key is None:
            return ciphertext
        if self._n >= MAX_NONCE:
            raise NonceExhaustedError("nonce space exhausted; run a new handshake")
        if len(ciphertext) < TAG_LEN:
            raise AuthenticationError("decryption failed")
        try:
            aead = self._aead or self._new_aead(self._key)
            plaintext = aead.decrypt(self._cipher.nonce(self._n), ciphertext, ad)
        except InvalidTag:
            raise AuthenticationError("decryption failed") from None
        self._n += 1
        return plaintext

    def _new_aead(self, key: bytes) -> Aead:
        self._aead = self._cipher.new(key)
        return self._aead

    def export_key(self) -> bytes:
        """The raw key `k`, for an application that runs its own AEAD or KDF on it.

        Noise leaves the use of transport keys to the application; WireGuard-style record
        layers take them out like this. Treat the result as a secret.

        Raises:
            LocalProtocolError: the CipherState has no key.
        """
        if self._key is None:
            raise LocalProtocolError("the CipherState has no key")
        return self._key

    def rekey(self) -> None:
        """Rekey(): k = REKEY(k); `n` is deliberately not reset (section 11.3)."""
        if self._key is None:
            raise LocalProtocolError("rekey of a CipherState without a key")
        n = self._n
        self.initialize_key(self._cipher.rekey(self._key))
        self._n = n
