"""Per-key work of bulk requests without per-key objects: new key IDs and the Key container.

A request for 1,024 keys would otherwise build 1,024 `uuid.UUID` and `Key` objects twice over.
`key_container_json` emits exactly the bytes of `protocols.etsi014.KeyContainer.to_json()`
for keys without extensions (pinned by tests/qkdlink/kme/test_bulk.py).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

__all__ = ["key_container_json", "new_key_ids"]


def new_key_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs in lowercase RFC 4122 text form (RFC 4122 section 4.4)."""
    raw = bytearray(os.urandom(16 * count))
    for i in range(0, 16 * count, 16):
        raw[i + 6] = (raw[i + 6] & 0x0F) | 0x40  # version 4
        raw[i + 8] = (raw[i + 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return [
        f"{text[j : j + 8]}-{text[j + 8 : j + 12]}-{text[j + 12 : j + 16]}-"
        f"{text[j + 16 : j + 20]}-{text[j + 20 : j + 32]}"
        for j in range(0, 32 * count, 32)
    ]


def key_container_json(keys: Sequence[tuple[str, bytes]]) -> bytes:
    """The Key container (ETSI GS QKD 014 Table 11) of (lowercase key ID, key bytes) pairs."""
    items = b",".join(
        b'{"key_ID":"%s","key":"%s"}' % (key_id.encode("ascii"), base64.b64encode(material))
        for key_id, material in keys
    )
    return b'{"keys":[' + items + b"]}"
