"""The `keystore` benchmarks run in quick mode and yield well-formed records (not the targets)."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks.keystore import BENCHMARKS

METRICS = {
    "keys_per_s_reserve_assign_take",
    "reserve_1024_keys_median",
    "assign_1024_keys_median",
    "take_1024_keys_median",
}


@pytest.mark.parametrize(
    "name", ["keystore", pytest.param("keystore-postgres", marks=pytest.mark.network)]
)
def test_keystore_quick_records_are_well_formed(name: str) -> None:
    records = BENCHMARKS[name](BenchOptions(quick=True))
    expected = METRICS | (
        {"single_key_reserves_per_s_16_concurrent"} if name == "keystore" else set()
    )
    assert {r.metric for r in records} == expected
    for r in records:
        assert r.benchmark == name
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline
        assert r.baseline_value is not None
        assert r.baseline_value > 0
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
        assert r.target
