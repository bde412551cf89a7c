"""SymmetricState (section 5.2): InitializeSymmetric padding or hashing of the protocol name."""

from __future__ import annotations

import hashlib

from protocols.noise import HASH_FUNCTIONS, ChaChaPoly, SymmetricState


def test_a_short_name_is_zero_padded_and_a_long_one_hashed() -> None:
    sha256 = HASH_FUNCTIONS["SHA256"]
    short = b"Noise_NN_25519_AESGCM_SHA256"  # 28 bytes <= HASHLEN
    assert SymmetricState(short, sha256, ChaChaPoly()).handshake_hash == short + bytes(4)
    long = b"Noise_XXpsk3_25519_ChaChaPoly_SHA256"  # 36 bytes > HASHLEN
    state = SymmetricState(long, sha256, ChaChaPoly())
    assert state.handshake_hash == hashlib.sha256(long).digest()


def test_mix_hash_and_encryption_before_a_key() -> None:
    state = SymmetricState(b"x", HASH_FUNCTIONS["BLAKE2s"], ChaChaPoly())
    h0 = state.handshake_hash
    assert state.encrypt_and_hash(b"clear") == b"clear"  # no key yet: plaintext, hashed
    assert state.handshake_hash == hashlib.blake2s(h0 + b"clear").digest()


def test_split_gives_two_distinct_keyed_cipher_states() -> None:
    state = SymmetricState(b"x", HASH_FUNCTIONS["SHA512"], ChaChaPoly())
    state.mix_key(bytes(32))
    c1, c2 = state.split()
    assert c1.has_key
    assert c2.has_key
    assert len(c1.export_key()) == 32  # SHA512 outputs truncated to 32 bytes
    assert c1.export_key() != c2.export_key()
    assert "SHA512" in repr(state)
