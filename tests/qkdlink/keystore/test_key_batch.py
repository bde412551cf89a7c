"""Sealed key batches: layout round trip, chunking per slave, and every malformed case failing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdlink.errors import KeyIdError, KeyNotEntitledError, KeyStoreError
from qkdlink.keystore import KeyAssignment
from qkdlink.keystore._key_batch import (
    KEYS_PER_BATCH,
    check_take,
    decode_key_batch,
    encode_key_batch,
    open_take,
    seal_key_batches,
)
from qkdlink.keystore._sealing import Sealer, key_batch_aad

_entries = st.dictionaries(
    st.text(min_size=1, max_size=40), st.binary(min_size=1, max_size=64), max_size=20
)


@given(_entries)
def test_layout_round_trips(entries: dict[str, bytes]) -> None:
    assert decode_key_batch(encode_key_batch(entries.items())) == entries


@given(_entries)
def test_a_truncated_or_extended_plaintext_is_inconsistent(entries: dict[str, bytes]) -> None:
    plain = encode_key_batch(entries.items())
    broken = [plain + b"\x00", plain + b"\x00\x05k"]
    if plain:
        broken.append(plain[:-1])  # cuts into the last key (every key has a byte at least)
    for bad in broken:
        with pytest.raises(KeyStoreError, match="inconsistent"):
            decode_key_batch(bad)


@pytest.mark.parametrize(
    "entry", [("k" * 65536, b"\x01"), ("k", b"\x01" * 65536)], ids=["long-id", "long-key"]
)
def test_an_entry_too_long_for_the_layout_is_a_store_error(entry: tuple[str, bytes]) -> None:
    with pytest.raises(KeyStoreError, match="too long") as caught:
        encode_key_batch([entry])
    assert b"\x01" not in str(caught.value).encode()  # opaque: no key bytes in the message


def test_batches_are_chunked_and_sealed_per_slave() -> None:
    sealer = Sealer(bytes(range(32)))
    count = KEYS_PER_BATCH + 1
    data = bytes(range(256)) * (count * 4 // 256 + 1)
    assignments = [KeyAssignment(f"k{i}", 100 + 4 * i, 4) for i in range(count)]
    index, batches = seal_key_batches(sealer.batch(), data, 100, assignments, "M", ["S1", "S2"])
    assert len(batches) == 4  # two chunks, two slaves
    assert len(index) == 2 * count
    assert len({b[0] for b in batches}) == 4
    assert [(b[1], b[2], b[3]) for b in batches] == [
        ("S1", "M", KEYS_PER_BATCH),
        ("S2", "M", KEYS_PER_BATCH),
        ("S1", "M", 1),
        ("S2", "M", 1),
    ]
    by_batch = {b[0]: b[4] for b in batches}
    for key_id, slave, master, batch_id in index:
        assert master == "M"
        held = decode_key_batch(
            sealer.open(key_batch_aad(batch_id, "M", slave), by_batch[batch_id])
        )
        i = int(key_id[1:])
        assert held[key_id] == data[4 * i : 4 * i + 4]
        with pytest.raises(KeyStoreError, match="authentication"):
            sealer.open(key_batch_aad(batch_id, "M", "S3"), by_batch[batch_id])


def test_take_reseals_the_rest_and_empties_batches() -> None:
    sealer = Sealer(bytes(range(32)))
    assignments = [KeyAssignment(f"k{i}", 8 * i, 8) for i in range(3)]
    data = bytes(range(24))
    index, batches = seal_key_batches(sealer.batch(), data, 0, assignments, "M", ["S"])
    check = check_take(["k2", "k0"], "M", "S", index)
    result = open_take(sealer, ["k2", "k0"], "M", "S", check, {b[0]: b[4] for b in batches})
    assert result.delivered == [("k2", data[16:24]), ("k0", data[0:8])]
    assert result.emptied == []
    ((batch_id, remaining, sealed),) = result.resealed
    assert remaining == 1
    assert sealed != batches[0][4]
    assert decode_key_batch(sealer.open(key_batch_aad(batch_id, "M", "S"), sealed)) == {
        "k1": data[8:16]
    }
    rest = open_take(
        sealer, ["k1"], "M", "S", check_take(["k1"], "M", "S", index), {batch_id: sealed}
    )
    assert rest.emptied == [batch_id]
    assert rest.resealed == []
    with pytest.raises(KeyStoreError, match="missing"):
        open_take(sealer, ["k1"], "M", "S", check_take(["k1"], "M", "S", index), {})


def test_check_take_refuses_unknown_delivered_and_foreign_keys() -> None:
    rows = [("k", "S", "M", "b"), ("d", "S", "M", None), ("o", "T", "M", "c")]
    with pytest.raises(KeyIdError):
        check_take(["x"], "M", "S", rows)
    with pytest.raises(KeyIdError) as info:
        check_take(["d"], "M", "S", rows)
    assert not isinstance(info.value, KeyNotEntitledError)
    for master, slave, ids in [("X", "S", ["k"]), ("M", "S", ["o"])]:
        with pytest.raises(KeyNotEntitledError):
            check_take(ids, master, slave, rows)
    check = check_take(["k"], "M", "S", rows)
    assert (check.batch_of, check.delete_ids, check.clear_ids) == ({"k": "b"}, ["k"], [])
