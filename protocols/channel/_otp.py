"""One-time-pad encryption with a Wegman-Carter one-time MAC, keyed by QKD key material.

Confidentiality: the message is XORed with fresh, uniformly random QKD key bits (Vernam's
one-time pad; perfect secrecy, Shannon 1949). Integrity: encrypt-then-MAC with Poly1305 under a
one-time 32-byte key taken from the same QKD material. Poly1305 with a one-time key is a
Wegman-Carter authenticator (Wegman & Carter, "New hash functions and their use in authentication
and set equality", JCSS 22, 1981; Bernstein, "The Poly1305-AES message-authentication code",
FSE 2005; RFC 8439 section 2.5): a forgery succeeds with probability at most about
``8 * ceil(L / 16) / 2**106`` for an L-byte message, whatever the attacker's computing power.
Neither bound holds if any pad byte is used twice, so the caller discards the whole pad after one
message (a QKD key is used for one purpose, once).

Pad layout: ``pad[:32]`` is the Poly1305 key (r || s), ``pad[32 : 32 + len(message)]`` the XOR pad.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from protocols.errors import AuthenticationError

__all__ = ["OTP_MAC_KEY_SIZE", "OTP_TAG_SIZE", "otp_open", "otp_pad_size", "otp_seal"]

OTP_MAC_KEY_SIZE = 32
OTP_TAG_SIZE = 16


def otp_pad_size(message_size: int) -> int:
    """Bytes of QKD key material one message of this size consumes."""
    return OTP_MAC_KEY_SIZE + message_size


def _xor(data: bytes, pad: bytes) -> bytes:
    if not data:
        return b""
    value = int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")
    return value.to_bytes(len(data), "big")


def otp_seal(pad: bytes, message: bytes) -> bytes:
    """``ciphertext || tag`` of `message` under a fresh pad of at least `otp_pad_size` bytes.

    Raises:
        ValueError: the pad is too short (the caller must fetch more key, never reuse any).
    """
    if len(pad) < otp_pad_size(len(message)):
        raise ValueError("one-time pad shorter than the message plus the MAC key")
    mac_key = pad[:OTP_MAC_KEY_SIZE]
    ciphertext = _xor(message, pad[OTP_MAC_KEY_SIZE : OTP_MAC_KEY_SIZE + len(message)])
    return ciphertext + Poly1305.generate_tag(mac_key, ciphertext)


def otp_open(pad: bytes, sealed: bytes) -> bytes:
    """The message in ``ciphertext || tag``, the tag checked first (constant time, OpenSSL).

    Raises:
        AuthenticationError: the tag is wrong, the input too short, or the pad too short.
    """
    if len(sealed) < OTP_TAG_SIZE:
        raise AuthenticationError("authentication failed")
    ciphertext, tag = sealed[:-OTP_TAG_SIZE], sealed[-OTP_TAG_SIZE:]
    if len(pad) < otp_pad_size(len(ciphertext)):
        raise AuthenticationError("authentication failed")
    mac_key = pad[:OTP_MAC_KEY_SIZE]
    try:
        Poly1305.verify_tag(mac_key, ciphertext, tag)
    except InvalidSignature:
        raise AuthenticationError("authentication failed") from None
    return _xor(ciphertext, pad[OTP_MAC_KEY_SIZE : OTP_MAC_KEY_SIZE + len(ciphertext)])
