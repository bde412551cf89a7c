"""Agreeing seeds with peers: the master fetches a fresh QKD key and sends only its key ID.

This module moves no bytes itself: it talks through a `SeedExchange` (the party mesh implements
it over its QKD-keyed channels), so it stays testable with an in-memory exchange. The party whose
id sorts first in a pair is the master (ETSI 014 `enc_keys`); the other fetches by ID
(`dec_keys`). Both record the key ID in their `SeedLedger` before deriving anything. A party
that cannot go on sends a typed refusal (`_messages`) to every peer still waiting on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Protocol

from qkdlink.errors import (
    ConfigurationError,
    KeyExhaustedError,
    KmeUnavailableError,
    QkdlinkError,
)
from qkdlink.keyprovider import KeyProvider
from qkdlink.randomness._ledger import SeedLedger
from qkdlink.randomness._messages import (
    Reason,
    decode_confirmation,
    decode_key_id,
    decode_wrapped,
    encode_confirmation,
    encode_key_id,
    encode_refusal,
    encode_wrapped,
    reason_for,
)
from qkdlink.randomness._seeds import (
    GroupSeed,
    PairSeed,
    check_seed_key,
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


def _pair_tag(purpose: str) -> str:
    """The mesh tag of a pairwise seed's key ID (`seed/` is a tag prefix the mesh reserves)."""
    return f"seed/{purpose}"


async def _refuse(exchange: SeedExchange, peer: str, tag: str, reason: Reason) -> None:
    """Tell `peer`, waiting under `tag`, that no seed comes (best effort: it may be gone)."""
    with contextlib.suppress(QkdlinkError, OSError):
        await exchange.send_tagged(peer, tag, encode_refusal(reason))


async def _fresh_key(keys: KeyProvider, peer: str) -> tuple[str, bytes]:
    try:
        key_id, key = await keys.new_key(peer)
    except KmeUnavailableError as exc:
        # ETSI 014 answers 503 when the pool is empty: no key, so no seed (never local
        # randomness instead).
        raise KeyExhaustedError(f"no QKD key for a seed with {peer!r}") from exc
    check_seed_key(key)
    return key_id, key


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

    If the master cannot obtain a usable key it sends the peer a refusal (a reason code, no
    key material) before raising, so the peer fails at once with the matching error instead of
    waiting out its receive timeout; neither side derives anything.

    Raises:
        KeyExhaustedError: the link's pool is empty or its KME has no key to give (503), here
            or at the peer (then naming it); no local randomness is used instead.
        KeyDeliveryError: the KME failed otherwise, here or at the peer.
        ConfigurationError: the KME's keys are shorter than 256 bits.
        KeyIdError: the peer named a key ID that is unknown or already consumed.
        RemoteProtocolError: the peer's message is of no known type.
    """
    if me == peer:
        raise ConfigurationError("cannot agree a seed with oneself")
    tag = _pair_tag(purpose)
    if me < peer:
        try:
            key_id, key = await _fresh_key(keys, peer)
            message = encode_key_id(key_id)
            ledger.consume(peer, key_id, purpose)
        except Exception as exc:
            await _refuse(exchange, peer, tag, reason_for(exc))
            raise
        await exchange.send_tagged(peer, tag, message)
    else:
        key_id = decode_key_id(await exchange.recv_tagged(peer, tag), peer, purpose)
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
    wrapped to the others. Once all pairs are agreed the leader confirms to the second member;
    if one fails, every member still waiting gets a refusal, so all fail promptly together.

    Raises:
        KeyExhaustedError: a link's pool is empty (a member's error names the leader).
        KeyDeliveryError: a KME failed otherwise.
        KeyIdError: a peer named an unknown or consumed key ID.
        MeshError: the leader gave up because its exchange with another member failed.
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
        message = await exchange.recv_tagged(leader, tag)
        if me == ordered[1]:
            decode_confirmation(message, leader, purpose)
            return leader_group_seed(pair, ordered, purpose)
        wrapped = decode_wrapped(message, leader, purpose)
        return unwrap_group_seed(wrapped, pair, ordered, purpose)
    others = ordered[1:]
    pairs: list[PairSeed] = []
    try:
        for m in others:
            pairs.append(
                await agree_pair_seed(
                    me, m, wrap_purpose, keys=keys, exchange=exchange, ledger=ledger
                )
            )
    except Exception as exc:
        # Members already paired wait for the group message; later ones for their key ID (the
        # failed one heard from `agree_pair_seed` itself, if it could be told).
        reason = reason_for(exc)
        for m in others[: len(pairs)]:
            await _refuse(exchange, m, tag, reason)
        for m in others[len(pairs) + 1 :]:
            await _refuse(exchange, m, _pair_tag(wrap_purpose), reason)
        raise
    group = leader_group_seed(pairs[0], ordered, purpose)
    messages = [encode_confirmation()] + [
        encode_wrapped(wrap_group_seed(group, pair)) for pair in pairs[1:]
    ]
    for k, (m, message) in enumerate(zip(others, messages, strict=True)):
        try:
            await exchange.send_tagged(m, tag, message)
        except Exception as exc:
            for rest in others[k + 1 :]:
                await _refuse(exchange, rest, tag, reason_for(exc))
            raise
    return group
