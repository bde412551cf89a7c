"""Protocol names (section 8) and the exported surface of `protocols.noise`."""

from __future__ import annotations

import pytest

import protocols.noise
from protocols.noise import NoiseProtocol, UnsupportedProtocolError


def test_a_name_selects_pattern_and_functions() -> None:
    protocol = NoiseProtocol.from_name("Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s")
    assert protocol.pattern.name == "XXpsk3"
    assert (protocol.dh.name, protocol.cipher.name, protocol.hash.name) == (
        "25519",
        "ChaChaPoly",
        "BLAKE2s",
    )
    assert protocol.hash.hashlen == 32
    assert protocol.dh.dhlen == 32


@pytest.mark.parametrize(
    "name",
    [
        "Noise_XX_25519_ChaChaPoly",
        "Nois_XX_25519_ChaChaPoly_SHA256",
        "Noise_XX_25519_ChaChaPoly_SHA3",
        "Noise_XX_P256_AESGCM_SHA256",
        "Noise_XX_25519_AESCTR_SHA256",
        "Noise_XX_25519_AESGCM_SHA256_extra",
        "Noise_X-X_25519_AESGCM_SHA256",
        "Noise_" + "X" * 300 + "_25519_AESGCM_SHA256",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(UnsupportedProtocolError):
        NoiseProtocol.from_name(name)


def test_unsupported_protocol_error_is_a_value_error() -> None:
    assert issubclass(UnsupportedProtocolError, ValueError)


def test_exports_are_pinned() -> None:
    assert sorted(protocols.noise.__all__) == sorted(
        [
            "CIPHER_FUNCTIONS", "DH_FUNCTIONS", "HASH_FUNCTIONS", "MAX_MESSAGE_LEN", "PATTERNS",
            "AesGcm", "ChaChaPoly", "CipherFunction", "CipherState", "Curve448", "Curve25519",
            "DhFunction", "HandshakePattern", "HandshakeState", "HashFunction", "KeyPair",
            "NoiseProtocol", "NoiseTransport", "NonceExhaustedError", "SymmetricState", "Token",
            "UnsupportedProtocolError", "VectorMismatchError", "build_pattern", "check_vector",
            "handshake_pair",
        ]
    )  # fmt: skip
    for name in protocols.noise.__all__:
        assert hasattr(protocols.noise, name)
