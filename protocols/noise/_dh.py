"""The `25519` and `448` DH functions of Noise rev 34, section 12.1-12.2, over `cryptography`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives.asymmetric import x448, x25519

from protocols.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["DH_FUNCTIONS", "Curve448", "Curve25519", "DhFunction", "KeyPair"]

_PrivateKey = x25519.X25519PrivateKey | x448.X448PrivateKey


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A DH key pair; the private half never appears in a repr."""

    public: bytes
    """The public key encoding, DHLEN bytes."""
    private: _PrivateKey = field(repr=False, compare=False)
    """The private key object (kept as an object so every DH skips re-parsing it)."""

    def private_bytes(self) -> bytes:
        """The raw private key (for persisting a static key; never log it)."""
        return self.private.private_bytes_raw()


class DhFunction:
    """One set of Noise DH functions: GENERATE_KEYPAIR, DH and DHLEN (section 4.1)."""

    name: str
    dhlen: int

    def generate_keypair(self) -> KeyPair:
        """A fresh key pair from the operating system's CSPRNG."""
        raise NotImplementedError

    def keypair_from_private(self, private: bytes) -> KeyPair:
        """The key pair of a raw private key.

        Raises:
            ValueError: `private` has the wrong length.
        """
        raise NotImplementedError

    def dh(self, keypair: KeyPair, public: bytes) -> bytes:
        """DH(key_pair, public_key).

        Raises:
            RemoteProtocolError: `public` is not a usable public key. Section 12.1 allows
                signalling an error instead of an all-zero output; `cryptography` does so for
                low-order points, and a peer sending one broke the protocol.
        """
        raise NotImplementedError


class Curve25519(DhFunction):
    """X25519 (RFC 7748); DHLEN = 32."""

    name = "25519"
    dhlen = 32

    def generate_keypair(self) -> KeyPair:
        private = x25519.X25519PrivateKey.generate()
        return KeyPair(private.public_key().public_bytes_raw(), private)

    def keypair_from_private(self, private: bytes) -> KeyPair:
        key = x25519.X25519PrivateKey.from_private_bytes(private)
        return KeyPair(key.public_key().public_bytes_raw(), key)

    def dh(self, keypair: KeyPair, public: bytes) -> bytes:
        if not isinstance(keypair.private, x25519.X25519PrivateKey):
            raise LocalProtocolError("key pair of another DH function")
        if len(public) != self.dhlen:
            raise RemoteProtocolError("invalid 25519 public key")
        try:
            return keypair.private.exchange(x25519.X25519PublicKey.from_public_bytes(public))
        except ValueError:
            raise RemoteProtocolError("invalid 25519 public key") from None


class Curve448(DhFunction):
    """X448 (RFC 7748); DHLEN = 56."""

    name = "448"
    dhlen = 56

    def generate_keypair(self) -> KeyPair:
        private = x448.X448PrivateKey.generate()
        return KeyPair(private.public_key().public_bytes_raw(), private)

    def keypair_from_private(self, private: bytes) -> KeyPair:
        key = x448.X448PrivateKey.from_private_bytes(private)
        return KeyPair(key.public_key().public_bytes_raw(), key)

    def dh(self, keypair: KeyPair, public: bytes) -> bytes:
        if not isinstance(keypair.private, x448.X448PrivateKey):
            raise LocalProtocolError("key pair of another DH function")
        if len(public) != self.dhlen:
            raise RemoteProtocolError("invalid 448 public key")
        try:
            return keypair.private.exchange(x448.X448PublicKey.from_public_bytes(public))
        except ValueError:
            raise RemoteProtocolError("invalid 448 public key") from None


DH_FUNCTIONS: Final[dict[str, DhFunction]] = {f.name: f for f in (Curve25519(), Curve448())}
"""The supported DH functions by their protocol-name section."""
