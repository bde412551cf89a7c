"""Noise protocol names (rev 34, section 8): parsing into a pattern and three functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocols.noise._cipher import CIPHER_FUNCTIONS, CipherFunction
from protocols.noise._dh import DH_FUNCTIONS, DhFunction
from protocols.noise._errors import UnsupportedProtocolError
from protocols.noise._hash import HASH_FUNCTIONS, HashFunction
from protocols.noise._patterns import HandshakePattern, build_pattern

__all__ = ["NoiseProtocol"]

_SECTION = re.compile(r"[A-Za-z0-9+/]+")


@dataclass(frozen=True, slots=True)
class NoiseProtocol:
    """A concrete Noise protocol: handshake pattern, DH, cipher and hash functions."""

    name: str
    """The full protocol name, e.g. ``Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s``."""
    pattern: HandshakePattern
    dh: DhFunction
    cipher: CipherFunction
    hash: HashFunction

    @classmethod
    def from_name(cls, name: str) -> NoiseProtocol:
        """Parse ``Noise_<pattern>_<dh>_<cipher>_<hash>``.

        Raises:
            UnsupportedProtocolError: malformed name, or an unsupported pattern or function.
        """
        if len(name.encode()) > 255:
            raise UnsupportedProtocolError("protocol name longer than 255 bytes")
        parts = name.split("_")
        if (
            len(parts) != 5
            or parts[0] != "Noise"
            or not all(_SECTION.fullmatch(p) for p in parts[1:])
        ):
            raise UnsupportedProtocolError(f"malformed Noise protocol name {name!r}")
        _, pattern_name, dh_name, cipher_name, hash_name = parts
        try:
            dh = DH_FUNCTIONS[dh_name]
            cipher = CIPHER_FUNCTIONS[cipher_name]
            hash_function = HASH_FUNCTIONS[hash_name]
        except KeyError as exc:
            raise UnsupportedProtocolError(f"unsupported function {exc.args[0]!r}") from None
        return cls(name, build_pattern(pattern_name), dh, cipher, hash_function)
