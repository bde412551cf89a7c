"""The hybrid part of the key schedule: modes, ML-KEM-768 helpers and the HKDF combiner."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes, hmac

from protocols.channel import HandshakeMode
from protocols.channel._hybrid import (
    combine_mlkem,
    mlkem_decapsulate,
    mlkem_encapsulate,
    mlkem_keypair,
)
from protocols.errors import RemoteProtocolError


def test_modes_and_wire_codes() -> None:
    assert HandshakeMode("qkd+x25519+mlkem").uses_mlkem
    assert not HandshakeMode("qkd+x25519").uses_mlkem
    for mode in HandshakeMode:
        assert HandshakeMode.from_wire_code(mode.wire_code) is mode
    assert HandshakeMode.from_wire_code(0) is None


def test_mlkem_round_trip_and_deterministic_keygen() -> None:
    seed = bytes(range(64))
    private = mlkem_keypair(seed)
    assert (
        private.public_key().public_bytes_raw()
        == mlkem_keypair(seed).public_key().public_bytes_raw()
    )
    shared, ciphertext = mlkem_encapsulate(private.public_key().public_bytes_raw())
    assert len(ciphertext) == 1088
    assert mlkem_decapsulate(private, ciphertext) == shared


def test_bad_mlkem_inputs_are_remote_errors() -> None:
    with pytest.raises(RemoteProtocolError):
        mlkem_encapsulate(bytes(100))
    with pytest.raises(RemoteProtocolError):
        mlkem_encapsulate(b"\xff" * 1184)  # coefficients >= q fail the FIPS 203 modulus check
    with pytest.raises(RemoteProtocolError):
        mlkem_decapsulate(mlkem_keypair(), bytes(10))


def test_combiner_is_rfc5869_hkdf_sha256_as_documented() -> None:
    h, i2r, r2i, secret = (os.urandom(32) for _ in range(4))
    prk_mac = hmac.HMAC(i2r + r2i, hashes.SHA256())
    prk_mac.update(secret)
    prk = prk_mac.finalize()
    okm = b""
    block = b""
    for counter in (1, 2):
        mac = hmac.HMAC(prk, hashes.SHA256())
        mac.update(block + b"qkdlink v1 hybrid mlkem768" + h + bytes((counter,)))
        block = mac.finalize()
        okm += block
    assert combine_mlkem(h, i2r, r2i, secret) == (okm[:32], okm[32:])


def test_combiner_depends_on_every_input() -> None:
    inputs = [os.urandom(32) for _ in range(4)]
    base = combine_mlkem(*inputs)
    for index in range(4):
        changed = list(inputs)
        changed[index] = os.urandom(32)
        assert combine_mlkem(*changed) != base
