"""The bulk fast paths emit exactly what the ETSI 014 model would."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from protocols.etsi014 import Key, KeyContainer
from qkdlink.kme._bulk import key_container_json, new_key_ids


def test_new_key_ids_are_distinct_canonical_v7_uuids() -> None:
    ids = new_key_ids(2000, unix_ms=0x0123_4567_89AB)
    assert len(set(ids)) == 2000
    for text in ids:
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert value.int >> 80 == 0x0123_4567_89AB  # the 48-bit millisecond timestamp
    # 74 random bits per ID: no two calls at the same millisecond collide either.
    assert not set(ids) & set(new_key_ids(2000, unix_ms=0x0123_4567_89AB))
    now_ms = time.time_ns() // 1_000_000
    assert abs((uuid.UUID(new_key_ids(1)[0]).int >> 80) - now_ms) < 60_000


@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=40))
def test_key_container_json_matches_the_model(materials: list[bytes]) -> None:
    ids = new_key_ids(len(materials))
    expected = KeyContainer(
        tuple(Key(uuid.UUID(i), m) for i, m in zip(ids, materials, strict=True))
    ).to_json()
    assert key_container_json(list(zip(ids, materials, strict=True))) == expected
    assert KeyContainer.from_json(expected).keys[0].key == materials[0]
