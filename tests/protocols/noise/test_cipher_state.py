"""CipherState: nonce encodings, the reserved maximum nonce, Rekey, opaque failures."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from protocols.errors import AuthenticationError, LocalProtocolError
from protocols.noise import AesGcm, ChaChaPoly, CipherState, NonceExhaustedError

KEY = bytes(range(32))


def test_chachapoly_nonce_is_zero_prefix_and_little_endian() -> None:
    state = CipherState(ChaChaPoly(), KEY)
    state.set_nonce(0x0102030405060708)
    expected = ChaCha20Poly1305(KEY).encrypt(
        bytes(4) + bytes.fromhex("0807060504030201"), b"m", b"a"
    )
    assert state.encrypt_with_ad(b"a", b"m") == expected
    assert state.nonce == 0x0102030405060709


def test_aesgcm_nonce_is_zero_prefix_and_big_endian() -> None:
    state = CipherState(AesGcm(), KEY)
    state.set_nonce(0x0102030405060708)
    expected = AESGCM(KEY).encrypt(bytes(4) + bytes.fromhex("0102030405060708"), b"m", b"a")
    assert state.encrypt_with_ad(b"a", b"m") == expected


def test_without_a_key_data_passes_through() -> None:
    state = CipherState(ChaChaPoly())
    assert not state.has_key
    assert state.encrypt_with_ad(b"ad", b"plain") == b"plain"
    assert state.decrypt_with_ad(b"ad", b"plain") == b"plain"


def test_maximum_nonce_is_reserved() -> None:
    sender, receiver = CipherState(ChaChaPoly(), KEY), CipherState(ChaChaPoly(), KEY)
    sender.set_nonce(2**64 - 2)
    receiver.set_nonce(2**64 - 2)
    assert receiver.decrypt_with_ad(b"", sender.encrypt_with_ad(b"", b"last")) == b"last"
    with pytest.raises(NonceExhaustedError):
        sender.encrypt_with_ad(b"", b"one too many")
    with pytest.raises(NonceExhaustedError):
        receiver.decrypt_with_ad(b"", bytes(16))
    with pytest.raises(LocalProtocolError):
        sender.set_nonce(2**64)


def test_failed_decryption_is_opaque_and_keeps_the_nonce() -> None:
    sender, receiver = CipherState(AesGcm(), KEY), CipherState(AesGcm(), KEY)
    good = sender.encrypt_with_ad(b"", b"data")
    for bad in (good[:-1] + bytes([good[-1] ^ 1]), good[:10], b""):
        with pytest.raises(AuthenticationError):
            receiver.decrypt_with_ad(b"", bad)
        assert receiver.nonce == 0
    assert receiver.decrypt_with_ad(b"", good) == b"data"


@pytest.mark.parametrize("cipher", [ChaChaPoly(), AesGcm()], ids=lambda c: c.name)
def test_rekey_follows_section_4_2_and_keeps_n(cipher: ChaChaPoly | AesGcm) -> None:
    state = CipherState(cipher, KEY)
    state.encrypt_with_ad(b"", b"x")
    state.rekey()
    new_key = cipher.new(KEY).encrypt(cipher.nonce(2**64 - 1), bytes(32), b"")[:32]
    assert state.nonce == 1
    assert state.encrypt_with_ad(b"", b"y") == cipher.new(new_key).encrypt(
        cipher.nonce(1), b"y", b""
    )


def test_rekeyed_peers_stay_in_step_and_old_keys_fail() -> None:
    sender, receiver = CipherState(ChaChaPoly(), KEY), CipherState(ChaChaPoly(), KEY)
    sender.rekey()
    message = sender.encrypt_with_ad(b"", b"after rekey")
    with pytest.raises(AuthenticationError):
        receiver.decrypt_with_ad(b"", message)
    receiver.rekey()
    assert receiver.decrypt_with_ad(b"", message) == b"after rekey"


def test_rekey_without_a_key_and_bad_key_sizes_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        CipherState(ChaChaPoly()).rekey()
    with pytest.raises(LocalProtocolError):
        CipherState(ChaChaPoly(), bytes(16))


def test_repr_hides_the_key() -> None:
    assert KEY.hex() not in repr(CipherState(ChaChaPoly(), KEY))
    assert repr(KEY) not in repr(CipherState(ChaChaPoly(), KEY))


def test_export_key_gives_the_key_and_refuses_without_one() -> None:
    assert CipherState(ChaChaPoly(), KEY).export_key() == KEY
    with pytest.raises(LocalProtocolError):
        CipherState(ChaChaPoly()).export_key()
