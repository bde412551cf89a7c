"""The hybrid modes of the channel handshake and the ML-KEM-768 part of the key schedule.

In mode ``qkd+x25519+mlkem`` the initiator sends an ML-KEM-768 encapsulation key (FIPS 203) in
its encrypted first payload, the responder encapsulates to it and returns the ciphertext in its
encrypted payload, and both combine the shared secret with Noise's two Split() keys::

    PRK            = HKDF-Extract(salt = k_i2r || k_r2i, IKM = ss_mlkem)           (RFC 5869)
    k'_i2r || k'_r2i = HKDF-Expand(PRK, "qkdlink v1 hybrid mlkem768" || h, 64)

with SHA-256. HMAC is a PRF in its key, here the Noise keys, secret while the QKD PSK or X25519
holds (Bellare, "New proofs for NMAC and HMAC: security without collision resistance",
J. Cryptology 28(4), 2015), and a dual PRF, i.e. also a PRF keyed through its message, here the
ML-KEM secret (Backendal, Bellare, Günther, Scarlata, "When messages are keys: is HMAC a
dual-PRF?", CRYPTO 2023, whose positive result is for fixed-length keys such as this 32-byte
secret; their attacks need keys of varying length), so the transport keys stay secret if
either the QKD key or ML-KEM holds. The handshake hash `h` in `info` binds the result to the
whole transcript, including the encapsulation key and ciphertext (both are hashed into `h` as
handshake payload ciphertexts), as the X-Wing / TLS hybrid designs bind public key and
ciphertext.
"""

from __future__ import annotations

import enum
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocols.errors import RemoteProtocolError

__all__ = [
    "MLKEM768_CIPHERTEXT_LEN",
    "MLKEM768_ENCAPSULATION_KEY_LEN",
    "MLKEM768_SEED_LEN",
    "HandshakeMode",
    "combine_mlkem",
    "mlkem_decapsulate",
    "mlkem_encapsulate",
    "mlkem_keypair",
]

MLKEM768_ENCAPSULATION_KEY_LEN: Final = 1184
MLKEM768_CIPHERTEXT_LEN: Final = 1088
MLKEM768_SEED_LEN: Final = 64
"""FIPS 203 seed d || z for deterministic key generation (test vectors only)."""
_INFO: Final = b"qkdlink v1 hybrid mlkem768"


class HandshakeMode(enum.Enum):
    """Which secrets key a channel; the value is the configuration spelling."""

    QKD_X25519_MLKEM = "qkd+x25519+mlkem"
    """QKD PSK + X25519 (Noise) + ML-KEM-768: secret if the QKD key or ML-KEM holds (default)."""
    QKD_X25519 = "qkd+x25519"
    """QKD PSK + X25519 (Noise) only."""

    @property
    def wire_code(self) -> int:
        """The byte that names the mode in the initiation header and the prologue."""
        return _WIRE_CODES[self]

    @classmethod
    def from_wire_code(cls, code: int) -> HandshakeMode | None:
        """The mode of a header byte, or None if it names none."""
        return _BY_WIRE_CODE.get(code)

    @property
    def uses_mlkem(self) -> bool:
        return self is HandshakeMode.QKD_X25519_MLKEM


_WIRE_CODES: Final = {HandshakeMode.QKD_X25519: 1, HandshakeMode.QKD_X25519_MLKEM: 2}
_BY_WIRE_CODE: Final = {code: mode for mode, code in _WIRE_CODES.items()}


def mlkem_keypair(seed: bytes | None = None) -> mlkem.MLKEM768PrivateKey:
    """A fresh ML-KEM-768 decapsulation key; `seed` (64 bytes) only for test vectors."""
    if seed is None:
        return mlkem.MLKEM768PrivateKey.generate()
    return mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)


def mlkem_encapsulate(encapsulation_key: bytes) -> tuple[bytes, bytes]:
    """(shared secret, ciphertext) for the peer's encapsulation key.

    Raises:
        RemoteProtocolError: the key fails the FIPS 203 input checks.
    """
    try:
        public = mlkem.MLKEM768PublicKey.from_public_bytes(encapsulation_key)
        shared, ciphertext = public.encapsulate()
    except ValueError:
        raise RemoteProtocolError("invalid ML-KEM-768 encapsulation key") from None
    return shared, ciphertext


def mlkem_decapsulate(private: mlkem.MLKEM768PrivateKey, ciphertext: bytes) -> bytes:
    """The shared secret of a ciphertext (implicit rejection: a bad one gives a random secret).

    Raises:
        RemoteProtocolError: the ciphertext has the wrong length.
    """
    try:
        return private.decapsulate(ciphertext)
    except ValueError:
        raise RemoteProtocolError("invalid ML-KEM-768 ciphertext") from None


def combine_mlkem(
    handshake_hash: bytes, i2r: bytes, r2i: bytes, mlkem_secret: bytes
) -> tuple[bytes, bytes]:
    """The hybrid transport keys (i2r, r2i) from the Split() keys and the ML-KEM secret."""
    okm = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=i2r + r2i, info=_INFO + handshake_hash
    ).derive(mlkem_secret)
    return okm[:32], okm[32:]
