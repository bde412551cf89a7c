"""HandshakeReplayCache: clock window, single-use key IDs, bounded memory."""

from __future__ import annotations

import uuid

import pytest

from protocols.channel import HandshakeReplayCache, ReplayedHandshakeError, StaleHandshakeError
from protocols.errors import LocalProtocolError


def test_a_key_id_is_accepted_once_within_the_window() -> None:
    cache = HandshakeReplayCache(window=10.0)
    key_id = uuid.uuid4()
    cache.record(key_id, 100.0, 100.0)
    with pytest.raises(ReplayedHandshakeError):
        cache.record(key_id, 100.0, 105.0)
    cache.record(uuid.uuid4(), 101.0, 105.0)
    assert len(cache) == 2


def test_timestamps_outside_the_window_are_stale() -> None:
    cache = HandshakeReplayCache(window=10.0)
    with pytest.raises(StaleHandshakeError):
        cache.check(uuid.uuid4(), 89.0, 100.0)
    with pytest.raises(StaleHandshakeError):
        cache.check(uuid.uuid4(), 111.0, 100.0)
    cache.check(uuid.uuid4(), 90.0, 100.0)


def test_old_entries_expire_and_their_replays_are_then_stale() -> None:
    cache = HandshakeReplayCache(window=10.0)
    key_id = uuid.uuid4()
    cache.record(key_id, 100.0, 100.0)
    cache.check(uuid.uuid4(), 200.0, 200.0)  # expires the old entry
    assert len(cache) == 0
    with pytest.raises(StaleHandshakeError):
        cache.record(key_id, 100.0, 200.0)


def test_memory_is_capped_and_evicted_entries_raise_the_floor() -> None:
    cache = HandshakeReplayCache(window=1000.0, max_entries=3)
    ids = [uuid.uuid4() for _ in range(4)]
    for i, key_id in enumerate(ids):
        cache.record(key_id, 100.0 + i, 100.0 + i)
    assert len(cache) == 3
    with pytest.raises(StaleHandshakeError):  # evicted, but still refused
        cache.record(ids[0], 100.0, 104.0)
    with pytest.raises(StaleHandshakeError):
        cache.record(uuid.uuid4(), 99.5, 104.0)


@pytest.mark.parametrize(("window", "max_entries"), [(0.0, 1), (float("inf"), 1), (1.0, 0)])
def test_bad_settings(window: float, max_entries: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        HandshakeReplayCache(window, max_entries)


def test_non_finite_times_are_local_errors() -> None:
    cache = HandshakeReplayCache()
    with pytest.raises(LocalProtocolError):
        cache.check(uuid.uuid4(), float("nan"), 100.0)
    with pytest.raises(LocalProtocolError):
        cache.record(uuid.uuid4(), 100.0, float("inf"))
