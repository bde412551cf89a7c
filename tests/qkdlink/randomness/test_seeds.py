"""Pair and group seeds: agreement, domain separation, single use, exhaustion and refusals."""

import asyncio
import secrets

import pytest

from qkdlink.errors import (
    ConfigurationError,
    KeyExhaustedError,
    KeyIdError,
    MeshError,
    PartyDisconnectedError,
    RemoteProtocolError,
)
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider
from qkdlink.randomness import (
    GroupSeed,
    PairSeed,
    Prg,
    SeedLedger,
    _agreement,
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
    boxes = {("a", "b", "seed/p"): [b"Knot-a-real-id"]}
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


def test_qkd_key_shorter_than_256_bits_is_refused() -> None:
    # a 256-bit seed from a 128-bit key would carry only 128 bits of entropy
    for short in (16, 31):
        with pytest.raises(ConfigurationError, match="at least 256 bits"):
            derive_pair_seed(bytes(short), "id", "a", "b", "x")
    assert len(derive_pair_seed(bytes(32), "id", "a", "b", "x").seed) == 32


class BlockingExchange:
    """A SeedExchange whose receives wait for the message (as the mesh's do); sends to a party
    in `gone` fail as a broken link would."""

    def __init__(
        self, me: str, boxes: dict[tuple[str, str, str], asyncio.Queue[bytes]], gone: set[str]
    ) -> None:
        self.me = me
        self.boxes = boxes
        self.gone = gone

    def _box(self, src: str, dst: str, tag: str) -> asyncio.Queue[bytes]:
        return self.boxes.setdefault((src, dst, tag), asyncio.Queue())

    async def send_tagged(self, peer: str, tag: str, data: bytes) -> None:
        if peer in self.gone:
            raise PartyDisconnectedError(peer, "link closed")
        self._box(self.me, peer, tag).put_nowait(data)

    async def recv_tagged(self, peer: str, tag: str) -> bytes:
        return await self._box(peer, self.me, tag).get()


class ShortKeys:
    """A provider whose KME hands out 128-bit keys (a KME configured with key_size 128)."""

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return "00000000-0000-4000-8000-000000000000", bytes(16)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        raise AssertionError("the peer must not fetch a key after a refusal")


class NoLinkWith:
    """The pool's provider, except that the links with `empty` have no key left."""

    def __init__(self, provider: KeyProvider, empty: set[str]) -> None:
        self.provider = provider
        self.empty = empty

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        if peer in self.empty:
            raise KeyExhaustedError("no key left")
        return await self.provider.new_key(peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return await self.provider.key_by_id(peer, key_id)


@pytest.fixture
def derived(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every party that derived a pair seed (a refused side must never appear)."""
    calls: list[str] = []
    real = derive_pair_seed

    def spy(key: bytes, key_id: str, a: str, b: str, purpose: str) -> PairSeed:
        calls.append(a)
        return real(key, key_id, a, b, purpose)

    monkeypatch.setattr(_agreement, "derive_pair_seed", spy)
    return calls


async def _pair(
    keys: dict[str, KeyProvider], ledgers: dict[str, SeedLedger]
) -> dict[str, PairSeed | BaseException]:
    boxes: dict[tuple[str, str, str], asyncio.Queue[bytes]] = {}

    async def one(me: str, peer: str) -> PairSeed:
        exchange = BlockingExchange(me, boxes, set())
        return await agree_pair_seed(
            me, peer, "x", keys=keys[me], exchange=exchange, ledger=ledgers[me]
        )

    # Bounded: without a refusal the peer would wait for a key ID that never comes.
    a, b = await asyncio.wait_for(
        asyncio.gather(one("a", "b"), one("b", "a"), return_exceptions=True), 5
    )
    return {"a": a, "b": b}


async def test_exhausted_master_refuses_and_the_peer_fails_at_once(derived: list[str]) -> None:
    pool = InMemoryKeyPool(capacity=0)
    ledgers = {"a": SeedLedger(), "b": SeedLedger()}
    got = await _pair({p: pool.provider(p) for p in "ab"}, ledgers)
    assert isinstance(got["a"], KeyExhaustedError)
    assert isinstance(got["b"], KeyExhaustedError)
    assert "party 'a'" in str(got["b"])
    # nothing derived, consumed or fetched: no local randomness in place of the missing key
    assert derived == []
    assert len(ledgers["a"]) == len(ledgers["b"]) == 0
    assert pool.delivered("a", "b") == 0


async def test_short_kme_keys_are_refused_on_both_sides(derived: list[str]) -> None:
    ledgers = {"a": SeedLedger(), "b": SeedLedger()}
    got = await _pair({"a": ShortKeys(), "b": ShortKeys()}, ledgers)
    assert isinstance(got["a"], ConfigurationError)
    assert isinstance(got["b"], ConfigurationError)
    assert "party 'a'" in str(got["b"])
    assert derived == []
    assert len(ledgers["b"]) == 0


@pytest.mark.parametrize(
    "message", [b"Rno-such-reason", b"Xnot a seed message", b""], ids=["reason", "type", "empty"]
)
async def test_unknown_seed_message_is_a_remote_error(message: bytes) -> None:
    boxes = {("a", "b", "seed/p"): [message]}
    ledger = SeedLedger()
    with pytest.raises(RemoteProtocolError, match="'a'"):
        await agree_pair_seed(
            "b",
            "a",
            "p",
            keys=InMemoryKeyPool().provider("b"),
            exchange=QueueExchange("b", boxes),
            ledger=ledger,
        )
    assert len(ledger) == 0


async def _group(
    members: list[str], keys: dict[str, KeyProvider], gone: set[str]
) -> dict[str, GroupSeed | BaseException]:
    boxes: dict[tuple[str, str, str], asyncio.Queue[bytes]] = {}

    async def one(me: str) -> GroupSeed:
        exchange = BlockingExchange(me, boxes, gone)
        return await agree_group_seed(
            me, members, "coins", keys=keys[me], exchange=exchange, ledger=SeedLedger()
        )

    live = [m for m in members if m not in gone]
    results = await asyncio.wait_for(
        asyncio.gather(*(one(m) for m in live), return_exceptions=True), 5
    )
    return dict(zip(live, results, strict=True))


async def test_group_leader_without_a_key_refuses_every_waiting_member(
    derived: list[str],
) -> None:
    members = ["m0", "m1", "m2", "m3"]
    pool = InMemoryKeyPool()
    keys = {m: pool.provider(m) for m in members}
    keys["m0"] = NoLinkWith(pool.provider("m0"), {"m2"})
    got = await _group(members, keys, set())
    # m1 was paired already (waits for the confirmation), m2 for its key ID, m3 for its own
    for m in members:
        assert isinstance(got[m], KeyExhaustedError), m
    for m in ("m1", "m2", "m3"):
        assert "party 'm0'" in str(got[m])
    assert sorted(derived) == ["m0", "m1"]  # only the pair seed m0-m1, from a real key
    assert pool.delivered("m0", "m3") == 0


async def test_group_leader_that_loses_a_member_tells_the_others() -> None:
    members = ["m0", "m1", "m2", "m3"]
    pool = InMemoryKeyPool()
    got = await _group(members, {m: pool.provider(m) for m in members}, {"m2"})
    assert isinstance(got["m0"], PartyDisconnectedError)
    assert got["m0"].party == "m2"
    for m in ("m1", "m3"):
        assert type(got[m]) is MeshError
        assert "party 'm0'" in str(got[m])


async def test_group_seed_agreed_concurrently() -> None:
    members = ["m0", "m1", "m2", "m3"]
    pool = InMemoryKeyPool()
    got = await _group(members, {m: pool.provider(m) for m in members}, set())
    seeds = {g.seed for g in got.values() if isinstance(g, GroupSeed)}
    assert len(seeds) == 1
