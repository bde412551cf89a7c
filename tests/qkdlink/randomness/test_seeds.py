"""Pair and group seeds: agreement, domain separation, single use, exhaustion."""

import secrets

import pytest

from qkdlink.errors import ConfigurationError, KeyExhaustedError, KeyIdError, RemoteProtocolError
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.randomness import (
    Prg,
    SeedLedger,
    agree_group_seed,
    agree_pair_seed,
    derive_pair_seed,
    unwrap_group_seed,
)
from qkdlink.randomness._kdf import encode_label


class QueueExchange:
    """An in-memory SeedExchange: one FIFO per (src, dst, tag)."""

    def __init__(self, me: str, boxes: dict[tuple[str, str, str], list[bytes]]) -> None:
        self.me = me
        self.boxes = boxes

    async def send_tagged(self, peer: str, tag: str, data: bytes) -> None:
        self.boxes.setdefault((self.me, peer, tag), []).append(data)

    async def recv_tagged(self, peer: str, tag: str) -> bytes:
        return self.boxes[(peer, self.me, tag)].pop(0)


def test_pair_seed_is_symmetric_and_bound_to_everything() -> None:
    key = secrets.token_bytes(32)
    s = derive_pair_seed(key, "id-1", "a", "b", "przs")
    assert s == derive_pair_seed(key, "id-1", "b", "a", "przs")
    assert s.parties == ("a", "b")
    variants = {
        derive_pair_seed(key, "id-2", "a", "b", "przs").seed,
        derive_pair_seed(key, "id-1", "a", "c", "przs").seed,
        derive_pair_seed(key, "id-1", "a", "b", "rep").seed,
        s.seed,
    }
    assert len(variants) == 4
    assert key.hex() not in repr(s)
    assert s.seed.hex() not in repr(s)
    with pytest.raises(ConfigurationError):
        derive_pair_seed(key, "id", "a", "a", "x")


def test_streams_of_different_purposes_have_distinct_keys() -> None:
    # By construction every stream key is HKDF-Expand(seed, encode_label("prg", *label)) and the
    # label encoding is injective, so distinct labels give distinct HKDF inputs; check outputs.
    seed = secrets.token_bytes(32)
    labels = [
        ("przs", "x", "a", "b"),
        ("przs", "y", "a", "b"),
        ("replicated", "x", 0),
        ("coins", "x"),
    ]
    infos = {encode_label("prg", *lab) for lab in labels}
    assert len(infos) == len(labels)
    heads = {Prg(seed, *lab).random_bytes(64) for lab in labels}
    assert len(heads) == len(labels)


async def test_agree_pair_seed_in_memory() -> None:
    pool = InMemoryKeyPool(capacity=4)
    boxes: dict[tuple[str, str, str], list[bytes]] = {}
    la, lb = SeedLedger(), SeedLedger()
    sa = await agree_pair_seed(
        "a", "b", "przs", keys=pool.provider("a"), exchange=QueueExchange("a", boxes), ledger=la
    )
    sb = await agree_pair_seed(
        "b", "a", "przs", keys=pool.provider("b"), exchange=QueueExchange("b", boxes), ledger=lb
    )
    assert sa.seed == sb.seed
    assert sa.key_id == sb.key_id
    assert la.by_purpose() == {"przs": 1}
    assert lb.by_peer() == {"a": 1}
    assert ("a", sa.key_id) in lb


async def test_replayed_key_id_is_refused() -> None:
    pool = InMemoryKeyPool()
    boxes: dict[tuple[str, str, str], list[bytes]] = {}
    ledger = SeedLedger()
    await agree_pair_seed(
        "a",
        "b",
        "p",
        keys=pool.provider("a"),
        exchange=QueueExchange("a", boxes),
        ledger=SeedLedger(),
    )
    key_id = boxes[("a", "b", "seed/p")][0]
    boxes[("a", "b", "seed/p")].append(key_id)  # the peer (or an attacker) repeats the ID
    ex_b = QueueExchange("b", boxes)
    await agree_pair_seed("b", "a", "p", keys=pool.provider("b"), exchange=ex_b, ledger=ledger)
    with pytest.raises(KeyIdError):
        await agree_pair_seed("b", "a", "p", keys=pool.provider("b"), exchange=ex_b, ledger=ledger)


async def test_exhausted_pool_raises_and_consumes_nothing() -> None:
    pool = InMemoryKeyPool(capacity=0)
    ledger = SeedLedger()
    with pytest.raises(KeyExhaustedError):
        await agree_pair_seed(
            "a", "b", "p", keys=pool.provider("a"), exchange=QueueExchange("a", {}), ledger=ledger
        )
    assert len(ledger) == 0


async def test_unknown_key_id_from_peer() -> None:
    pool = InMemoryKeyPool()
    boxes = {("a", "b", "seed/p"): [b"not-a-real-id"]}
    with pytest.raises(KeyIdError):
        await agree_pair_seed(
            "b",
            "a",
            "p",
            keys=pool.provider("b"),
            exchange=QueueExchange("b", boxes),
            ledger=SeedLedger(),
        )


@pytest.mark.parametrize("n", [2, 3, 5])
async def test_group_seed_agreed_by_all_members(n: int) -> None:
    pool = InMemoryKeyPool()
    boxes: dict[tuple[str, str, str], list[bytes]] = {}
    members = [f"m{i}" for i in range(n)]
    ledgers = {m: SeedLedger() for m in members}
    # the leader goes first with this queue exchange (sends never block)
    seeds = [
        await agree_group_seed(
            m,
            members,
            "coins",
            keys=pool.provider(m),
            exchange=QueueExchange(m, boxes),
            ledger=ledgers[m],
        )
        for m in members
    ]
    assert len({s.seed for s in seeds}) == 1
    assert ledgers["m0"].by_purpose() == {"group/coins": n - 1}


def test_group_message_length_checked() -> None:
    pair = derive_pair_seed(bytes(32), "k", "a", "b", "g")
    with pytest.raises(RemoteProtocolError):
        unwrap_group_seed(b"short", pair, ["a", "b", "c"], "g")


class UnavailableKme:
    """A provider whose KME answers 503 (empty pool) to every enc_keys."""

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        from qkdlink.errors import KmeUnavailableError

        raise KmeUnavailableError("503: keys not available")

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        raise AssertionError("not reached")


async def test_kme_503_becomes_key_exhausted() -> None:
    ledger = SeedLedger()
    with pytest.raises(KeyExhaustedError):
        await agree_pair_seed(
            "a", "b", "p", keys=UnavailableKme(), exchange=QueueExchange("a", {}), ledger=ledger
        )
    assert len(ledger) == 0
