"""Domain separation: every derived key is HKDF-Expand (RFC 5869) under an injective label.

A label is the version tag followed by type-tagged, length-prefixed fields (purpose, parties,
counter), so two different label tuples can never encode to the same `info` string: no
ambiguity such as ("ab", "c") versus ("a", "bc"), nor between the integer 5 and the 8-byte
string that happens to spell it. Keys derived under different labels are independent PRF outputs
of HKDF-Expand (RFC 5869 section 2.3; HMAC-SHA-256 as a PRF).
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from qkdlink.errors import LocalProtocolError

__all__ = ["LABEL_VERSION", "SEED_BYTES", "encode_label", "expand", "extract_and_expand"]

LABEL_VERSION = b"qkdlink/randomness/v2"
"""Prefix of every `info` string this package derives under."""

SEED_BYTES = 32
"""Seeds and stream keys are 256 bits (AES-256)."""

_MAX_FIELD = 0xFFFF


def encode_label(*fields: str | bytes | int) -> bytes:
    """The injective `info` encoding: version, then each field as type || 2-byte length || bytes.

    The type byte is "i" for integers (8-byte big-endian unsigned: counters, party indices), "s"
    for text (UTF-8) and "b" for raw bytes, so equal bytes of different types stay distinct.

    Raises:
        LocalProtocolError: a field is longer than 65535 bytes or an integer is negative.
    """
    out = bytearray(LABEL_VERSION)
    for item in fields:
        if isinstance(item, int):
            if item < 0:
                raise LocalProtocolError("label integers must be non-negative")
            kind, raw = b"i", item.to_bytes(8, "big")
        elif isinstance(item, str):
            kind, raw = b"s", item.encode()
        else:
            kind, raw = b"b", bytes(item)
        if len(raw) > _MAX_FIELD:
            raise LocalProtocolError("label field too long")
        out += kind + len(raw).to_bytes(2, "big") + raw
    return bytes(out)


def expand(prk: bytes, info: bytes, length: int = SEED_BYTES) -> bytes:
    """HKDF-Expand(PRK, info, L) of RFC 5869 section 2.3 with SHA-256.

    `prk` must be a uniformly random key of at least 32 bytes (a seed already is one, which is
    why the Extract step may be skipped, RFC 5869 section 3.3).
    """
    if len(prk) < SEED_BYTES:
        raise LocalProtocolError("a PRK must be at least 32 bytes")
    return HKDFExpand(hashes.SHA256(), length, info).derive(prk)


def extract_and_expand(ikm: bytes, salt: bytes, info: bytes, length: int = SEED_BYTES) -> bytes:
    """Full HKDF (RFC 5869 section 2.2 and 2.3): used where raw QKD key bytes enter."""
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)
