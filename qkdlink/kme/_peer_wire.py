"""The KME-to-KME assignment message (JSON over mutual TLS, `POST /peer/v1/links/{link}/assign`).

    {"partition": 0,
     "groups": [{"master_SAE_ID": "SAE_a", "slave_SAE_IDs": ["SAE_b"],
                 "keys": [["<uuid>", <offset>, <length>], ...]}, ...]}

It carries key IDs and byte ranges of the sender's partition, never key material.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from qkdlink.keystore import KeyAssignment

__all__ = [
    "MAX_KEYS_PER_MESSAGE",
    "PEER_MAX_BODY_BYTES",
    "AssignGroup",
    "AssignMessage",
    "PeerWireError",
    "decode_assign",
    "encode_assign",
]

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

MAX_KEYS_PER_MESSAGE = 65_536
"""A sender coalesces at most this many keys into one message; more is refused."""
PEER_MAX_BODY_BYTES = 8 * 1024 * 1024
"""Cap on an assignment message's size (16,384 keys take about 1 MiB)."""


class PeerWireError(ValueError):
    """The peer's message is not a well-formed assignment message."""


@dataclass(frozen=True, slots=True)
class AssignGroup:
    """One enc_keys request's keys, as the master KME sends them."""

    master_sae_id: str
    slave_sae_ids: tuple[str, ...]
    keys: tuple[KeyAssignment, ...]


@dataclass(frozen=True, slots=True)
class AssignMessage:
    """Assignments in the sender's partition, in increasing offset order."""

    partition: int
    groups: tuple[AssignGroup, ...]


def encode_assign(message: AssignMessage) -> bytes:
    """Serialize an assignment message."""
    return json.dumps(
        {
            "partition": message.partition,
            "groups": [
                {
                    "master_SAE_ID": g.master_sae_id,
                    "slave_SAE_IDs": list(g.slave_sae_ids),
                    "keys": [[k.key_id, k.offset, k.length] for k in g.keys],
                }
                for g in message.groups
            ],
        },
        separators=(",", ":"),
    ).encode()


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PeerWireError("expected a non-negative integer")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise PeerWireError("expected a non-empty string")
    return value


def _str_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PeerWireError("expected a list")
    return tuple(_str(v) for v in value)


def _keys(value: object) -> tuple[KeyAssignment, ...]:
    # Up to 65,536 keys per message: every check runs in C (map/all over builtins), with no
    # Python frame per key except the KeyAssignment constructor.
    if not isinstance(value, list) or not value:
        raise PeerWireError("keys must be a non-empty list")
    if not all(type(item) is list and len(item) == 3 for item in value):
        raise PeerWireError("a key is [key_ID, offset, length]")
    key_ids, offsets, lengths = zip(*value, strict=True)
    if not all(type(k) is str for k in key_ids) or not all(map(_CANONICAL_UUID.fullmatch, key_ids)):
        raise PeerWireError("key_ID is not a lowercase RFC 4122 UUID")
    # `type(x) is int` also refuses booleans, which JSON decoding gives for true/false.
    if not all(type(x) is int and x >= 0 for x in offsets):
        raise PeerWireError("expected a non-negative integer")
    if not all(type(x) is int and x > 0 for x in lengths):
        raise PeerWireError("key length must be positive")
    return tuple(map(KeyAssignment, key_ids, offsets, lengths))


def decode_assign(data: bytes) -> AssignMessage:
    """Parse an assignment message strictly.

    Raises:
        PeerWireError: not JSON, wrong shape, too many keys, offsets not increasing.
    """
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PeerWireError("not JSON") from exc
    if not isinstance(obj, dict) or set(obj) != {"partition", "groups"}:
        raise PeerWireError("expected {partition, groups}")
    raw_groups = obj["groups"]
    if not isinstance(raw_groups, list) or not raw_groups:
        raise PeerWireError("groups must be a non-empty list")
    groups = []
    total = 0
    end = -1
    for raw in raw_groups:
        if not isinstance(raw, dict) or set(raw) != {"master_SAE_ID", "slave_SAE_IDs", "keys"}:
            raise PeerWireError("a group is {master_SAE_ID, slave_SAE_IDs, keys}")
        keys = _keys(raw["keys"])
        total += len(keys)
        if total > MAX_KEYS_PER_MESSAGE:
            raise PeerWireError("too many keys in one message")
        for key in keys:
            if key.offset < end:
                raise PeerWireError("offsets must increase without overlap")
            end = key.offset + key.length
        groups.append(
            AssignGroup(_str(raw["master_SAE_ID"]), _str_list(raw["slave_SAE_IDs"]), keys)
        )
    return AssignMessage(_int(obj["partition"]), tuple(groups))
