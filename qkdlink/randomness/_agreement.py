"""Agreeing seeds with peers: the master fetches a fresh QKD key and sends only its key ID.

This module moves no bytes itself: it talks through a `SeedExchange` (the party mesh implements
it over its QKD-keyed channels), so it stays testable with an in-memory exchange. The party whose
id sorts first in a pair is the master (ETSI 014 `enc_keys`); the other fetches by ID
(`dec_keys`). Both record the key ID in their `SeedLedger` before deriving anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qkdlink.errors import ConfigurationError, KeyExhaustedError, KmeUnavailableError
from qkdlink.keyprovider import KeyProvider
from qkdlink.randomness._ledger import SeedLedger
from qkdlink.randomness._seeds import (
    GroupSeed,
    PairSeed,
    derive_pair_seed,
    leader_group_seed,
    unwrap_group_seed,
    wrap_group_seed,
)

__all__ = ["SeedExchange", "agree_group_seed", "agree_pair_seed"]


class SeedExchange(Protocol):
    """Sends small seed-agreement messages to a peer under a tag (the mesh provides it)."""

    async def send_tagged(self, peer: str, tag: str, data: bytes) -> None:
        """Send `data` to `peer` under `tag`."""
        ...

    async def recv_tagged(self, peer: str, tag: str) -> bytes:
        """Receive the message `peer` sent under `tag`."""
        ...


async def agree_pair_seed(
    me: str,
    peer: str,
    purpose: str,
    *,
    keys: KeyProvider,
    exchange: SeedExchange,
    ledger: SeedLedger,
) -> PairSeed:
    """A pair seed shared with `peer` for `purpose`, from one fresh QKD key.

    Raises:
        KeyExhaustedError: the link's pool is empty or its KME has no key to give (503); no
            local randomness is used instead.
        KeyIdError: the peer named a key ID that is unknown or already consumed.
    """
    if me == peer:
        raise ConfigurationError("cannot agree a seed with oneself")
    tag = f"seed/{purpose}"
    if me < peer:
        try:
            key_id, key = await keys.new_key(peer)
        except KmeUnavailableError as exc:
            # ETSI 014 answers 503 when the pool is empty: no key, so no seed (never local
            # randomness instead).
            raise KeyExhaustedError(f"no QKD key for a seed with {peer!r}") from exc
        ledger.consume(peer, key_id, purpose)
        await exchange.send_tagged(peer, tag, key_id.encode())
    else:
        key_id = (await exchange.recv_tagged(peer, tag)).decode("ascii", errors="replace")
        ledger.consume(peer, key_id, purpose)
        key = await keys.key_by_id(peer, key_id)
    return derive_pair_seed(key, key_id, me, peer, purpose)


async def agree_group_seed(
    me: str,
    members: Sequence[str],
    purpose: str,
    *,
    keys: KeyProvider,
    exchange: SeedExchange,
    ledger: SeedLedger,
) -> GroupSeed:
    """A seed all `members` share (the leader, first in sorted order, chooses and wraps it).

    The leader agrees a fresh pair seed (purpose "group/<purpose>") with every other member; the
    group seed is derived from the one with the second member (who derives it too) and sent
    wrapped to the others.

    Raises:
        KeyExhaustedError: a link's pool is empty.
        KeyIdError: a peer named an unknown or consumed key ID.
    """
    ordered = sorted(members)
    if me not in ordered:
        raise ConfigurationError(f"{me!r} is not a member of the group")
    leader = ordered[0]
    wrap_purpose = f"group/{purpose}"
    tag = f"group-seed/{purpose}"
    if me != leader:
        pair = await agree_pair_seed(
            me, leader, wrap_purpose, keys=keys, exchange=exchange, ledger=ledger
        )
        if me == ordered[1]:
            return leader_group_seed(pair, ordered, purpose)
        message = await exchange.recv_tagged(leader, tag)
        return unwrap_group_seed(message, pair, ordered, purpose)
    pairs = [
        await agree_pair_seed(me, m, wrap_purpose, keys=keys, exchange=exchange, ledger=ledger)
        for m in ordered[1:]
    ]
    group = leader_group_seed(pairs[0], ordered, purpose)
    for pair in pairs[1:]:
        await exchange.send_tagged(pair.peer_of(me), tag, wrap_group_seed(group, pair))
    return group
