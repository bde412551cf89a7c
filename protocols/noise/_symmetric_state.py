"""The Noise `SymmetricState` (rev 34, section 5.2): chaining key `ck`, hash `h`, a CipherState."""

from __future__ import annotations

from protocols.noise._cipher import CipherFunction
from protocols.noise._cipher_state import CipherState
from protocols.noise._hash import HashFunction

__all__ = ["SymmetricState"]


class SymmetricState:
    """MixKey, MixHash, MixKeyAndHash, EncryptAndHash, DecryptAndHash and Split."""

    __slots__ = ("_cipher", "_ck", "_h", "_hash", "cipher_state")

    def __init__(self, protocol_name: bytes, hash_function: HashFunction, cipher: CipherFunction):
        """InitializeSymmetric(protocol_name)."""
        self._hash = hash_function
        self._cipher = cipher
        if len(protocol_name) <= hash_function.hashlen:
            self._h = protocol_name.ljust(hash_function.hashlen, b"\x00")
        else:
            self._h = hash_function.hash(protocol_name)
        self._ck = self._h
        self.cipher_state = CipherState(cipher)

    def __repr__(self) -> str:
        return f"<SymmetricState {self._hash.name} {self.cipher_state!r}>"

    @property
    def handshake_hash(self) -> bytes:
        """GetHandshakeHash(): `h`."""
        return self._h

    def mix_key(self, input_key_material: bytes) -> None:
        """MixKey: ck, temp_k = HKDF(ck, ikm, 2); k = temp_k truncated to 32 bytes."""
        self._ck, temp_k = self._hash.hkdf2(self._ck, input_key_material)
        self.cipher_state.initialize_key(temp_k[:32])

    def mix_hash(self, data: bytes) -> None:
        """MixHash: h = HASH(h || data)."""
        self._h = self._hash.hash(self._h + data)

    def mix_key_and_hash(self, input_key_material: bytes) -> None:
        """MixKeyAndHash: ck, temp_h, temp_k = HKDF(ck, ikm, 3); MixHash(temp_h); k = temp_k."""
        self._ck, temp_h, temp_k = self._hash.hkdf3(self._ck, input_key_material)
        self.mix_hash(temp_h)
        self.cipher_state.initialize_key(temp_k[:32])

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        """EncryptAndHash: encrypt with `h` as associated data, then MixHash(ciphertext)."""
        ciphertext = self.cipher_state.encrypt_with_ad(self._h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        """DecryptAndHash: decrypt with `h` as associated data, then MixHash(ciphertext).

        Raises:
            AuthenticationError: the AEAD tag did not verify.
        """
        plaintext = self.cipher_state.decrypt_with_ad(self._h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        """Split(): two CipherStates keyed from HKDF(ck, zerolen, 2), initiator's first."""
        temp_k1, temp_k2 = self._hash.hkdf2(self._ck, b"")
        return CipherState(self._cipher, temp_k1[:32]), CipherState(self._cipher, temp_k2[:32])
