"""The KeyStore contract (qkdlink/keystore/_base.py), run against every backend via `backend`."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qkdlink.errors import KeyExhaustedError, KeyIdError, KeyNotEntitledError, KeyStoreError
from qkdlink.keysource import KeyBlock, TestKeySource
from qkdlink.keystore import Allocation, KeyAssignment, KeyStore
from qkdlink.keystore._key_batch import KEYS_PER_BATCH, decode_key_batch
from qkdlink.keystore._sealing import Sealer, key_batch_aad
from tests.qkdlink.keystore.conftest import Backend

LINK = "alice-bob"
BLOCK = 64
SOURCE = TestKeySource(LINK, seed=b"keystore-contract", block_bytes=BLOCK)


def blocks(start: int, stop: int) -> list[KeyBlock]:
    return [SOURCE.block(i) for i in range(start, stop)]


def stream(partition: int, count: int) -> bytes:
    """The partition stream of the first `count` blocks of the link."""
    return b"".join(b.material for b in blocks(0, count) if b.block_id % 2 == partition)


Op = tuple[str, int, list[int], list[tuple[int, int]]]
"""A model-test operation: (kind, count or partition, reserve lengths, assign (gap, length)s)."""


def kid() -> str:
    return str(uuid.uuid4())


async def test_ingest_is_idempotent_and_tracks_next_block_id(backend: Backend) -> None:
    store = await backend.open()
    assert await store.next_block_id(LINK) == 0
    assert await store.pool_bytes(LINK, 0) == 0
    await store.ingest(LINK, blocks(0, 4))
    await store.ingest(LINK, blocks(0, 6))  # 0..3 again: ignored
    await store.ingest(LINK, blocks(2, 3))
    assert await store.next_block_id(LINK) == 6
    assert await store.pool_bytes(LINK, 0) == 3 * BLOCK
    assert await store.pool_bytes(LINK, 1) == 3 * BLOCK
    assert await store.next_block_id("other-link") == 0


async def test_ingest_refuses_a_gap_and_applies_nothing(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 2))
    with pytest.raises(KeyStoreError):
        await store.ingest(LINK, [*blocks(2, 3), *blocks(4, 5)])
    assert await store.next_block_id(LINK) == 2
    assert await store.pool_bytes(LINK, 0) == BLOCK


async def test_partitions_follow_block_parity(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 6))
    even = await store.reserve(LINK, 0, [3 * BLOCK])
    odd = await store.reserve(LINK, 1, [3 * BLOCK])
    assert even[0].material == stream(0, 6)
    assert odd[0].material == stream(1, 6)
    assert even[0].offset == odd[0].offset == 0


async def test_reserve_slices_the_stream_and_is_all_or_nothing(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 8))  # 4 blocks per partition = 256 bytes
    first = await store.reserve(LINK, 0, [32, 40, 8])
    assert [a.offset for a in first] == [0, 32, 72]
    assert b"".join(a.material for a in first) == stream(0, 8)[:80]
    with pytest.raises(KeyExhaustedError):
        await store.reserve(LINK, 0, [100, 100])
    assert await store.pool_bytes(LINK, 0) == 256 - 80
    rest = await store.reserve(LINK, 0, [176])
    assert rest == [Allocation(80, stream(0, 8)[80:])]
    assert await store.pool_bytes(LINK, 0) == 0
    assert await store.reserve(LINK, 0, []) == []
    with pytest.raises(ValueError, match="positive"):
        await store.reserve(LINK, 0, [0])
    with pytest.raises(ValueError, match="partition"):
        await store.reserve(LINK, 2, [8])


async def test_reserve_never_repeats_bytes_across_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 10))
    got = await store.reserve(LINK, 1, [24, 24])
    await store.aclose()
    store = await backend.open()
    got += await store.reserve(LINK, 1, [50])
    await store.aclose()
    store = await backend.open()
    got += await store.reserve(LINK, 1, [await store.pool_bytes(LINK, 1)])
    assert [a.offset for a in got] == [0, 24, 48, 98]
    assert b"".join(a.material for a in got) == stream(1, 10)
    with pytest.raises(KeyExhaustedError):
        await store.reserve(LINK, 1, [1])


async def test_assign_burns_gaps_and_matches_the_master(backend: Backend) -> None:
    master = await backend.open("master")
    peer = await backend.open("peer")
    # Each end runs its own instance of the link's source (same parameters, same stream).
    for store in (master, peer):
        source = TestKeySource(LINK, seed=b"keystore-contract", block_bytes=BLOCK, max_blocks=8)
        async for block in source.blocks(await store.next_block_id(LINK)):
            await store.ingest(LINK, [block])
    reserved = await master.reserve(LINK, 0, [32, 32, 16, 32])
    # The peer hears of the 1st, 2nd and 4th key only: the 3rd range is burned there.
    chosen = [reserved[0], reserved[1], reserved[3]]
    assignments = [KeyAssignment(kid(), a.offset, len(a.material)) for a in chosen]
    await peer.assign(LINK, 0, assignments, "SAE_A", ["SAE_B"])
    assert await peer.pool_bytes(LINK, 0) == await master.pool_bytes(LINK, 0)
    taken = await peer.take("SAE_A", "SAE_B", [a.key_id for a in assignments])
    assert [k.key_id for k in taken] == [a.key_id for a in assignments]
    assert [k.material for k in taken] == [a.material for a in chosen]
    # The burned range can never be assigned afterwards.
    with pytest.raises(KeyIdError):
        await peer.assign(LINK, 0, [KeyAssignment(kid(), 64, 16)], "SAE_A", ["SAE_B"])


async def test_assign_rejects_bad_ranges_and_ids_without_consuming(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 4))  # 128 bytes per partition
    first = kid()
    await store.assign(LINK, 0, [KeyAssignment(first, 0, 32)], "M", ["S"])
    bad = [
        [KeyAssignment(kid(), 16, 32)],  # below the watermark
        [KeyAssignment(kid(), 32, 32), KeyAssignment(kid(), 48, 32)],  # overlap
        [KeyAssignment(kid(), 64, 16), KeyAssignment(kid(), 32, 16)],  # not increasing
        [KeyAssignment(first, 32, 32)],  # key ID already stored
        [KeyAssignment("dup", 32, 16), KeyAssignment("dup", 48, 16)],  # repeated key ID
        [KeyAssignment(kid(), 32, 0)],  # empty range
    ]
    for assignments in bad:
        with pytest.raises(KeyIdError):
            await store.assign(LINK, 0, assignments, "M", ["S"])
        assert await store.pool_bytes(LINK, 0) == 96
    # Not ingested yet: nothing consumed, the same call succeeds once the material arrives.
    late = [KeyAssignment(kid(), 32, 32), KeyAssignment(kid(), 128, 32)]
    with pytest.raises(KeyExhaustedError):
        await store.assign(LINK, 0, late, "M", ["S"])
    assert await store.pool_bytes(LINK, 0) == 96
    assert await store.stored_key_count("M", "S") == 1
    await store.ingest(LINK, blocks(4, 6))
    await store.assign(LINK, 0, late, "M", ["S"])
    assert await store.pool_bytes(LINK, 0) == 192 - 160
    taken = await store.take("M", "S", [a.key_id for a in late])
    assert [k.material for k in taken] == [stream(0, 6)[32:64], stream(0, 6)[128:160]]
    with pytest.raises(ValueError, match="slave"):
        await store.assign(LINK, 0, [KeyAssignment(kid(), 160, 8)], "M", [])


async def test_take_delivers_once_per_slave_all_or_nothing(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 4))
    ids = [kid(), kid(), kid()]
    assignments = [KeyAssignment(k, i * 32, 32) for i, k in enumerate(ids)]
    await store.assign(LINK, 1, assignments, "M", ["S1", "S2", "S3"])
    assert await store.stored_key_count("M", "S1") == 3
    assert await store.stored_key_count("S1", "M") == 0
    # Known keys asked for by the wrong master, a slave not named, or reversed roles: 401.
    for who in [("X", "S1"), ("M", "X"), ("S1", "M")]:
        with pytest.raises(KeyNotEntitledError):
            await store.take(*who, ids[:1])
    with pytest.raises(KeyIdError) as info:
        await store.take("X", "S1", [ids[0], kid()])  # one unknown: plain KeyIdError wins
    assert not isinstance(info.value, KeyNotEntitledError)
    with pytest.raises(KeyIdError):
        await store.take("M", "S1", [ids[0], kid()])  # one unknown: nothing delivered
    with pytest.raises(KeyIdError):
        await store.take("M", "S1", [ids[0], ids[0]])
    assert await store.stored_key_count("M", "S1") == 3
    expected = [stream(1, 4)[i * 32 : (i + 1) * 32] for i in range(3)]
    got = await store.take("M", "S1", [ids[2], ids[0]])
    assert [(k.key_id, k.material) for k in got] == [(ids[2], expected[2]), (ids[0], expected[0])]
    with pytest.raises(KeyIdError) as info:
        await store.take("M", "S1", [ids[0]])  # delivered already
    assert not isinstance(info.value, KeyNotEntitledError)
    with pytest.raises(KeyNotEntitledError):
        await store.take("M", "S4", [ids[0]])  # still pending for S2 and S3, never for S4
    # S1's copy left storage; the row stays only as a marker while S2 and S3 have theirs.
    cleared = backend.execute(
        "a", "SELECT batch_id FROM qkd_keys WHERE key_id = ? AND slave_sae_id = 'S1'", (ids[0],)
    )
    assert cleared == [(None,)]
    assert_batches_hold(backend, "M", "S1", {ids[1]: expected[1]})
    for slave in ("S2", "S3"):  # every additional slave gets its copy once
        got = await store.take("M", slave, ids)
        assert [k.material for k in got] == expected
        assert await store.stored_key_count("M", slave) == 0
    assert [k.material for k in await store.take("M", "S1", [ids[1]])] == [expected[1]]
    assert await store.take("M", "S1", []) == []
    assert await store.stored_key_count("M", "S1") == 0
    # Delivered to every slave: the key is gone entirely, for anyone.
    for who in [("M", "S1"), ("M", "S4")]:
        with pytest.raises(KeyIdError) as info:
            await store.take(*who, ids[:1])
        assert not isinstance(info.value, KeyNotEntitledError)
    assert backend.execute("a", "SELECT count(*) FROM qkd_keys") == [(0,)]
    assert backend.execute("a", "SELECT count(*) FROM qkd_key_batches") == [(0,)]


def assert_batches_hold(backend: Backend, master: str, slave: str, keys: dict[str, bytes]) -> None:
    """Open every sealed key batch of a slave: exactly `keys` (ID -> bytes) remain at rest."""
    sealer = Sealer(backend.master_key)
    batch_ids = {
        str(row[0])
        for row in backend.execute(
            "a",
            "SELECT batch_id FROM qkd_keys WHERE slave_sae_id = ? AND batch_id IS NOT NULL",
            (slave,),
        )
    }
    held: dict[str, bytes] = {}
    for batch_id, sealed in backend.execute("a", "SELECT batch_id, sealed FROM qkd_key_batches"):
        if batch_id in batch_ids:
            aad = key_batch_aad(str(batch_id), master, slave)
            assert isinstance(sealed, bytes | memoryview)
            held.update(decode_key_batch(sealer.open(aad, bytes(sealed))))
    assert held == keys


async def test_delivered_keys_leave_their_sealed_batch(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 80))
    count = KEYS_PER_BATCH + 3  # two batches
    ids = [kid() for _ in range(count)]
    await store.assign(LINK, 0, [KeyAssignment(k, 8 * i, 8) for i, k in enumerate(ids)], "M", ["S"])
    material = {k: stream(0, 80)[8 * i : 8 * i + 8] for i, k in enumerate(ids)}
    assert len(backend.execute("a", "SELECT batch_id FROM qkd_key_batches")) == 2
    # One key from each batch, then the rest of the small one: a batch is re-sealed without
    # the delivered keys, and deleted once it holds none.
    picked = [ids[5], ids[-1]]
    got = await store.take("M", "S", picked)
    assert [(k.key_id, k.material) for k in got] == [(k, material[k]) for k in picked]
    for k in picked:
        del material[k]
    assert_batches_hold(backend, "M", "S", material)
    rest = ids[KEYS_PER_BATCH:-1]
    await store.take("M", "S", rest)
    for k in rest:
        del material[k]
    assert_batches_hold(backend, "M", "S", material)
    assert len(backend.execute("a", "SELECT batch_id FROM qkd_key_batches")) == 1
    assert await store.stored_key_count("M", "S") == len(material)


async def test_state_survives_close_and_reopen(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 6))
    await store.reserve(LINK, 0, [40])
    ids = [kid(), kid()]
    await store.assign(
        LINK, 1, [KeyAssignment(ids[0], 8, 16), KeyAssignment(ids[1], 100, 16)], "M", ["S"]
    )
    await store.aclose()
    store = await backend.open()
    assert await store.next_block_id(LINK) == 6
    assert await store.pool_bytes(LINK, 0) == 192 - 40
    assert await store.pool_bytes(LINK, 1) == 192 - 116
    assert await store.stored_key_count("M", "S") == 2
    got = await store.take("M", "S", ids)
    assert [k.material for k in got] == [stream(1, 6)[8:24], stream(1, 6)[100:116]]
    assert (await store.reserve(LINK, 0, [8]))[0].offset == 40


async def test_material_is_encrypted_at_rest(backend: Backend) -> None:
    store = await backend.open()
    all_blocks = blocks(0, 8)
    await store.ingest(LINK, all_blocks)
    await store.reserve(LINK, 0, [40])  # leaves a re-sealed remainder of block 0
    await store.assign(LINK, 1, [KeyAssignment(kid(), 8, 32)], "M", ["S1", "S2"])
    raw = backend.raw_bytes("a")
    assert raw, "the backend stored nothing?"
    secrets_at_rest = [b.material for b in all_blocks]
    secrets_at_rest.append(stream(0, 8)[40:64])  # the remainder's plaintext
    secrets_at_rest.append(stream(1, 8)[8:40])  # the assigned key
    for secret in secrets_at_rest:
        for i in range(0, len(secret) - 8, 8):
            assert secret[i : i + 8] not in raw


async def test_tampered_or_swapped_rows_fail_closed(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 6))
    ids = [kid(), kid()]
    # Two calls, two sealed key batches.
    await store.assign(LINK, 0, [KeyAssignment(ids[0], 0, 16)], "M", ["S"])
    await store.assign(LINK, 0, [KeyAssignment(ids[1], 16, 16)], "M", ["S"])
    # Swap the two batches' ciphertexts: each batch row now holds the other's sealed bytes.
    rows = backend.execute("a", "SELECT batch_id, sealed FROM qkd_key_batches ORDER BY batch_id")
    assert len(rows) == 2
    for (batch_id, _), (_, sealed) in zip(rows, reversed(rows), strict=True):
        backend.execute(
            "a", "UPDATE qkd_key_batches SET sealed = ? WHERE batch_id = ?", (sealed, batch_id)
        )
    with pytest.raises(KeyStoreError) as info:
        await store.take("M", "S", ids[:1])
    assert "authentication" in str(info.value)
    # Swap them back, then point one key's index row at the other key's batch: the batch
    # authenticates but does not hold that key, so the take fails and delivers nothing.
    for batch_id, sealed in rows:
        backend.execute(
            "a", "UPDATE qkd_key_batches SET sealed = ? WHERE batch_id = ?", (sealed, batch_id)
        )
    (other_batch,) = backend.execute(
        "a", "SELECT batch_id FROM qkd_keys WHERE key_id = ?", (ids[1],)
    )
    backend.execute(
        "a", "UPDATE qkd_keys SET batch_id = ? WHERE key_id = ?", (other_batch[0], ids[0])
    )
    with pytest.raises(KeyStoreError, match="inconsistent"):
        await store.take("M", "S", ids[:1])
    assert await store.stored_key_count("M", "S") == 2
    # Swap two blocks of the partition stream: reserving across them fails, returns nothing.
    rows = backend.execute(
        "a", "SELECT start, sealed FROM qkd_blocks WHERE partition = 1 ORDER BY start"
    )
    backend.execute(
        "a",
        "UPDATE qkd_blocks SET sealed = ? WHERE partition = 1 AND start = ?",
        (rows[1][1], rows[0][0]),
    )
    with pytest.raises(KeyStoreError):
        await store.reserve(LINK, 1, [8])
    # Corrupt a byte of a block.
    start, sealed = backend.execute(
        "a", "SELECT start, sealed FROM qkd_blocks WHERE partition = 0 ORDER BY start"
    )[-1]
    assert isinstance(sealed, bytes)
    corrupt = bytearray(sealed)
    corrupt[-1] ^= 1
    backend.execute(
        "a",
        "UPDATE qkd_blocks SET sealed = ? WHERE partition = 0 AND start = ?",
        (bytes(corrupt), start),
    )
    with pytest.raises(KeyStoreError):
        await store.reserve(LINK, 0, [await store.pool_bytes(LINK, 0)])
    assert await store.pool_bytes(LINK, 0) == 192 - 32  # nothing consumed by the failure


async def test_opening_with_another_master_key_fails(backend: Backend) -> None:
    store = await backend.open()
    await store.ingest(LINK, blocks(0, 2))
    await store.aclose()
    with pytest.raises(KeyStoreError, match="master key"):
        await backend.open(master_key=bytes(32))


async def test_a_store_of_the_first_layout_is_refused(backend: Backend) -> None:
    store = await backend.open()
    await store.aclose()
    # Layout 1 sealed keys one by one in qkd_keys.sealed; nothing migrates it.
    if backend.name == "sqlite":
        backend.execute("a", "PRAGMA user_version = 1")
    else:
        backend.execute("a", "ALTER TABLE qkd_keys DROP COLUMN batch_id")
    with pytest.raises(KeyStoreError, match="schema version 1"):
        await backend.open()


async def test_concurrent_reserves_never_overlap(backend: Backend) -> None:
    store = await backend.open()
    replica = await backend.open()  # a second instance on the same storage (another replica)
    await store.ingest(LINK, blocks(0, 40))  # 1280 bytes per partition
    lengths = [8 * (1 + i % 5) for i in range(60)]  # 1440 bytes asked: some calls must fail

    async def one(s: KeyStore, length: int) -> list[Allocation]:
        try:
            return await s.reserve(LINK, 0, [length, 8])
        except KeyExhaustedError:
            return []

    results = await asyncio.gather(
        *(one(store if i % 2 else replica, n) for i, n in enumerate(lengths))
    )
    got = sorted((a for r in results for a in r), key=lambda a: a.offset)
    position = 0
    for a in got:
        assert a.offset == position
        position += len(a.material)
    assert b"".join(a.material for a in got) == stream(0, 40)[:position]
    assert position + await store.pool_bytes(LINK, 0) == 20 * BLOCK


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("ingest"), st.integers(1, 5), st.just([]), st.just([])),
            st.tuples(
                st.just("reserve"),
                st.integers(0, 1),
                st.lists(st.integers(1, 80), min_size=1, max_size=6),
                st.just([]),
            ),
            st.tuples(
                st.just("assign"),
                st.integers(0, 1),
                st.just([]),
                st.lists(st.tuples(st.integers(0, 40), st.integers(1, 80)), min_size=1, max_size=5),
            ),
        ),
        max_size=14,
    )
)
async def test_random_operation_sequences_match_the_stream_model(
    backend: Backend, ops: list[Op]
) -> None:
    """Model: each partition is a byte stream; every returned byte is the model's, used once."""
    store = await backend.open(kid())
    try:
        await _run_model(store, ops)
    finally:
        await store.aclose()


async def _run_model(store: KeyStore, ops: list[Op]) -> None:
    ingested = 0
    consumed = [0, 0]
    ids: list[tuple[str, bytes]] = []
    for op in ops:
        model = [stream(p, ingested) for p in (0, 1)]
        if op[0] == "ingest":
            count = op[1]
            await store.ingest(LINK, blocks(ingested, ingested + count))
            ingested += count
        elif op[0] == "reserve":
            partition, lengths = op[1], op[2]
            if consumed[partition] + sum(lengths) > len(model[partition]):
                with pytest.raises(KeyExhaustedError):
                    await store.reserve(LINK, partition, lengths)
                continue
            got = await store.reserve(LINK, partition, lengths)
            for a in got:
                assert a.offset == consumed[partition]
                assert a.material == model[partition][a.offset : a.offset + len(a.material)]
                consumed[partition] += len(a.material)
        else:
            partition, spec = op[1], op[3]
            assignments = []
            position = consumed[partition]
            for gap, length in spec:
                assignments.append(KeyAssignment(kid(), position + gap, length))
                position += gap + length
            if position > len(model[partition]):
                with pytest.raises(KeyExhaustedError):
                    await store.assign(LINK, partition, assignments, "M", ["S"])
                continue
            await store.assign(LINK, partition, assignments, "M", ["S"])
            consumed[partition] = position
            ids += [
                (a.key_id, model[partition][a.offset : a.offset + a.length]) for a in assignments
            ]
        for p in (0, 1):
            assert await store.pool_bytes(LINK, p) == len(stream(p, ingested)) - consumed[p]
    assert await store.stored_key_count("M", "S") == len(ids)
    got_keys = await store.take("M", "S", [k for k, _ in ids])
    assert [(k.key_id, k.material) for k in got_keys] == ids


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    calls=st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(1, 48), min_size=1, max_size=4)),
        min_size=2,
        max_size=16,
    )
)
async def test_interleaved_reserves_on_two_replicas_partition_the_stream(
    backend: Backend, calls: list[tuple[bool, list[int]]]
) -> None:
    """Whatever the interleaving, the allocations tile a prefix of the stream exactly once."""
    name = kid()
    first, second = await backend.open(name), await backend.open(name)
    try:
        await first.ingest(LINK, blocks(0, 8))  # 256 bytes per partition; calls may ask more

        async def one(use_first: bool, lengths: list[int]) -> list[Allocation]:
            try:
                return await (first if use_first else second).reserve(LINK, 1, lengths)
            except KeyExhaustedError:
                return []

        results = await asyncio.gather(*(one(*call) for call in calls))
        for lengths, got in zip((c[1] for c in calls), results, strict=True):
            assert got == [] or [len(a.material) for a in got] == lengths
        flat = sorted((a for r in results for a in r), key=lambda a: a.offset)
        position = 0
        for a in flat:
            assert a.offset == position
            assert a.material == stream(1, 8)[position : position + len(a.material)]
            position += len(a.material)
        assert await second.pool_bytes(LINK, 1) == 256 - position
    finally:
        await first.aclose()
        await second.aclose()


async def test_racing_takes_and_ingests_on_two_replicas_deliver_once(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    # Both replicas ingest the same blocks at once: the stream is stored once.
    await asyncio.gather(first.ingest(LINK, blocks(0, 6)), second.ingest(LINK, blocks(0, 6)))
    assert await first.next_block_id(LINK) == 6
    assert await second.pool_bytes(LINK, 0) == 3 * BLOCK
    ids = [kid() for _ in range(12)]
    await first.assign(
        LINK, 0, [KeyAssignment(k, 16 * i, 16) for i, k in enumerate(ids)], "M", ["S"]
    )

    async def take(store: KeyStore, key_id: str) -> bytes | None:
        try:
            return (await store.take("M", "S", [key_id]))[0].material
        except KeyIdError:
            return None

    results = await asyncio.gather(*(take(s, k) for k in ids for s in (first, second)))
    for i in range(len(ids)):
        pair = results[2 * i : 2 * i + 2]
        assert sum(x is not None for x in pair) == 1  # exactly one replica delivered it...
        assert stream(0, 6)[16 * i : 16 * i + 16] in pair  # ...and it is the right key
    assert await first.stored_key_count("M", "S") == 0
    # All twelve keys shared one sealed batch that both replicas re-sealed concurrently: no
    # lost update left it (or a delivered key in it) behind.
    assert backend.execute("a", "SELECT count(*) FROM qkd_key_batches") == [(0,)]


async def test_batches_of_1024_keys_round_trip(backend: Backend) -> None:
    master, peer = await backend.open("master"), await backend.open("peer")
    for store in (master, peer):
        await store.ingest(LINK, blocks(0, 2 * 1024 * 32 // BLOCK + 2))
    reserved = await master.reserve(LINK, 0, [32] * 1024)
    assignments = [KeyAssignment(kid(), a.offset, 32) for a in reserved]
    await peer.assign(LINK, 0, assignments, "M", ["S1", "S2"])
    for slave in ("S1", "S2"):
        taken = await peer.take("M", slave, [a.key_id for a in reversed(assignments)])
        assert [k.material for k in taken] == [a.material for a in reversed(reserved)]
    assert len({a.material for a in reserved}) == 1024
    assert await peer.stored_key_count("M", "S1") == 0


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    spec=st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3", "k4"]), st.integers(-8, 300), st.integers(-4, 80)
        ),
        min_size=1,
        max_size=5,
    )
)
async def test_hostile_assignments_raise_typed_errors_and_lose_nothing(
    backend: Backend, spec: list[tuple[str, int, int]]
) -> None:
    """Whatever ranges a peer sends: a typed error with the pool untouched, or exact keys."""
    store = await backend.open(kid())
    try:
        await store.ingest(LINK, blocks(0, 8))  # 256 bytes in partition 0
        await store.reserve(LINK, 0, [16])  # watermark at 16
        assignments = [KeyAssignment(k, offset, length) for k, offset, length in spec]
        try:
            await store.assign(LINK, 0, assignments, "M", ["S"])
        except (KeyIdError, KeyExhaustedError):
            assert await store.pool_bytes(LINK, 0) == 240
            assert await store.stored_key_count("M", "S") == 0
            return
        # Accepted: the ranges were valid, and each key is exactly its bytes of the stream.
        assert len({k for k, _, _ in spec}) == len(spec)
        position = 16
        for _, offset, length in spec:
            assert length > 0
            assert offset >= position
            position = offset + length
        assert position <= 256
        assert await store.pool_bytes(LINK, 0) == 256 - position
        taken = await store.take("M", "S", [a.key_id for a in assignments])
        assert [k.material for k in taken] == [
            stream(0, 8)[a.offset : a.offset + a.length] for a in assignments
        ]
    finally:
        await store.aclose()
