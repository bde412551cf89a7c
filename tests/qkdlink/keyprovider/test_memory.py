"""`InMemoryKeyPool`: per-link capacity, single delivery to the named slave, UUID key IDs."""

from __future__ import annotations

import uuid

import pytest

from qkdlink.errors import ConfigurationError, KeyExhaustedError, KeyIdError
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider


async def test_each_key_is_delivered_once_to_the_named_slave() -> None:
    pool = InMemoryKeyPool()
    a, b, c = pool.provider("a"), pool.provider("b"), pool.provider("c")
    assert isinstance(a, KeyProvider)
    key_id, key = await a.new_key("b")
    assert len(key) == 32
    assert str(uuid.UUID(key_id)) == key_id  # the channel handshake refuses any other key ID
    with pytest.raises(KeyIdError):
        await c.key_by_id("a", key_id)  # not the slave it was issued for
    with pytest.raises(KeyIdError):
        await a.key_by_id("b", key_id)  # the master cannot fetch its own key as slave
    assert await b.key_by_id("a", key_id) == key
    with pytest.raises(KeyIdError) as caught:
        await b.key_by_id("a", key_id)  # consumed
    assert key_id not in str(caught.value)  # a peer-chosen ID is not echoed
    assert (pool.issued("a", "b"), pool.delivered("b", "a")) == (1, 1)


async def test_capacity_is_per_link_and_either_end_draws_from_it() -> None:
    pool = InMemoryKeyPool(capacity=2)
    a, b, c = pool.provider("a"), pool.provider("b"), pool.provider("c")
    await a.new_key("b")
    await b.new_key("a")
    with pytest.raises(KeyExhaustedError):
        await a.new_key("b")
    await a.new_key("c")  # another link, its own capacity
    assert (pool.issued("b", "a"), pool.issued("a", "c"), pool.delivered("a", "b")) == (2, 1, 0)
    with pytest.raises(KeyExhaustedError):
        await InMemoryKeyPool(capacity=0).provider("a").new_key("b")
    unlimited = InMemoryKeyPool(capacity=None).provider("a")
    assert len({(await unlimited.new_key("b"))[0] for _ in range(100)}) == 100
    with pytest.raises(ConfigurationError):
        await c.new_key("c")


@pytest.mark.parametrize(
    "options", [{"key_bytes": 31}, {"key_bytes": 16}, {"capacity": -1}], ids=str
)
def test_short_keys_and_negative_capacity_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        InMemoryKeyPool(**options)


async def test_key_bytes_sets_the_key_length() -> None:
    _, key = await InMemoryKeyPool(key_bytes=64).provider("a").new_key("b")
    assert len(key) == 64
