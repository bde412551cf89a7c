"""The `keystore` benchmarks run in quick mode and yield well-formed records (not the targets)."""

from __future__ import annotations

import pytest

from benchmarks.keystore import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick

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
    records = run_quick(BENCHMARKS, name)
    expected = METRICS | (
        {"single_key_reserves_per_s_16_concurrent"} if name == "keystore" else set()
    )
    assert {r.metric for r in records} == expected
    for r in records:
        assert_positive_ratio(r, name)
        assert r.baseline
        assert r.target
