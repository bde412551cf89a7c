"""RFC 6479 window and strict order, checked against a plain set-based model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.channel import ReplayWindow, StrictOrder


def test_window_accepts_each_counter_once_and_refuses_too_old() -> None:
    w = ReplayWindow(128)
    assert w.size >= 128
    for c in (5, 3, 4, 1000):
        assert w.check(c)
        w.update(c)
    assert not w.check(5)
    assert not w.check(1000)
    assert not w.check(1000 - w.size)  # just outside
    assert w.check(1000 - w.size + 1)  # just inside, never seen
    assert w.check(999)


def test_window_rejects_bad_size() -> None:
    with pytest.raises(ValueError, match="positive"):
        ReplayWindow(0)


def test_strict_order_accepts_only_the_next_counter() -> None:
    s = StrictOrder()
    assert s.check(0)
    assert not s.check(1)
    s.update(0)
    assert not s.check(0)
    assert s.check(1)
    assert not s.check(2)


@given(st.lists(st.integers(min_value=0, max_value=5000), max_size=300), st.sampled_from([64, 200]))
def test_window_matches_set_model(counters: list[int], size: int) -> None:
    w = ReplayWindow(size)
    seen: set[int] = set()
    top = -1
    for c in counters:
        expected = c not in seen and (c > top or top - c < w.size)
        assert w.check(c) == expected
        if expected:
            w.update(c)
            seen.add(c)
            top = max(top, c)
