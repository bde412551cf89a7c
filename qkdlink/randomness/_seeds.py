"""Pairwise and group seeds derived from QKD keys, with their domain separation.

A pair seed is HKDF (RFC 5869) of one QKD key of at least 256 bits: salt "qkdlink/pair-seed/v1",
info = label(purpose, lower party, higher party, key ID). Both parties compute it from the same
key, and a key ID is consumed by one purpose only (`SeedLedger`). A group seed (for a subset of
more than two parties: MPyC-style PRSS, common coins) is chosen by the subset's leader as
HKDF-Expand of its pair seed with the second member and sent to each other member encrypted under
a pad derived from their pair seed (a single-use stream-cipher key: HKDF-Expand is a PRF, RFC 5869
section 2.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qkdlink.errors import ConfigurationError, RemoteProtocolError
from qkdlink.randomness._kdf import SEED_BYTES, encode_label, expand, extract_and_expand

__all__ = [
    "GroupSeed",
    "PairSeed",
    "check_seed_key",
    "derive_pair_seed",
    "leader_group_seed",
    "unwrap_group_seed",
    "wrap_group_seed",
]

_PAIR_SALT = b"qkdlink/pair-seed/v1"


@dataclass(frozen=True, slots=True)
class PairSeed:
    """A 256-bit seed two parties share, derived from one QKD key for one purpose."""

    parties: tuple[str, str]
    """The two parties, sorted."""
    purpose: str
    """What the seed is for; part of its derivation."""
    key_id: str
    """The QKD key it came from (consumed)."""
    seed: bytes = field(repr=False)
    """The secret seed; never printed."""

    def peer_of(self, party: str) -> str:
        """The other party of the pair."""
        a, b = self.parties
        if party == a:
            return b
        if party == b:
            return a
        raise ConfigurationError(f"{party!r} is not in this pair")


@dataclass(frozen=True, slots=True)
class GroupSeed:
    """A 256-bit seed all members of a subset share."""

    members: tuple[str, ...]
    """The subset, sorted."""
    purpose: str
    """What the seed is for."""
    seed: bytes = field(repr=False)
    """The secret seed; never printed."""


def check_seed_key(qkd_key: bytes) -> None:
    """Refuses a QKD key too short to give a seed its full 256 bits of entropy.

    HKDF is deterministic: its output has no more entropy than its input key, so a 128-bit key
    would make a "256-bit" seed worth 128 bits.

    Raises:
        ConfigurationError: the key is shorter than 32 bytes (e.g. a KME `key_size` of 128).
    """
    if len(qkd_key) < SEED_BYTES:
        raise ConfigurationError(
            f"a QKD key for a seed must be at least {8 * SEED_BYTES} bits, got {8 * len(qkd_key)}"
        )


def derive_pair_seed(qkd_key: bytes, key_id: str, a: str, b: str, purpose: str) -> PairSeed:
    """The seed of the pair {a, b} for `purpose` from one QKD key (both sides get the same).

    Raises:
        ConfigurationError: the parties are equal, or the key is shorter than 256 bits.
    """
    if a == b:
        raise ConfigurationError("a pair seed needs two distinct parties")
    check_seed_key(qkd_key)
    lo, hi = sorted((a, b))
    info = encode_label("pair-seed", purpose, lo, hi, key_id)
    return PairSeed((lo, hi), purpose, key_id, extract_and_expand(qkd_key, _PAIR_SALT, info))


def _members(members: Sequence[str]) -> tuple[str, ...]:
    ordered = tuple(sorted(members))
    if len(set(ordered)) != len(ordered) or len(ordered) < 2:
        raise ConfigurationError("a group needs at least two distinct members")
    return ordered


def leader_group_seed(leader_pair: PairSeed, members: Sequence[str], purpose: str) -> GroupSeed:
    """The leader's group seed, from its pair seed with the second member of the group."""
    ordered = _members(members)
    if leader_pair.parties != (ordered[0], ordered[1]):
        raise ConfigurationError("the leader's pair seed must be with the second member")
    seed = expand(leader_pair.seed, encode_label("group-seed", purpose, *ordered))
    return GroupSeed(ordered, purpose, seed)


def _pad(pair: PairSeed, group: tuple[str, ...], purpose: str) -> bytes:
    return expand(pair.seed, encode_label("group-wrap", purpose, *pair.parties, *group))


def wrap_group_seed(group: GroupSeed, pair: PairSeed) -> bytes:
    """The leader's message carrying the group seed to the other party of `pair`.

    The pad is single-use: it is derived from a pair seed that is itself single-purpose.
    """
    pad = _pad(pair, group.members, group.purpose)
    return bytes(x ^ y for x, y in zip(group.seed, pad, strict=True))


def unwrap_group_seed(
    message: bytes, pair: PairSeed, members: Sequence[str], purpose: str
) -> GroupSeed:
    """A member's group seed from the leader's message (`pair` = its seed with the leader).

    Raises:
        RemoteProtocolError: the message has the wrong length.
    """
    ordered = _members(members)
    if len(message) != SEED_BYTES:
        raise RemoteProtocolError("group seed message has the wrong length")
    pad = _pad(pair, ordered, purpose)
    seed = bytes(x ^ y for x, y in zip(message, pad, strict=True))
    return GroupSeed(ordered, purpose, seed)
