"""The `kme` and `kme-bulk` benchmarks run in quick mode and yield well-formed records."""

from __future__ import annotations

import pytest

from benchmarks.kme import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick

METRICS = {
    "kme": {"enc_dec_round_trip_median", "durable_store_floor_median"},
    "kme-bulk": {"enc_keys_per_s", "dec_keys_per_s"},
}


@pytest.mark.parametrize(
    "name", ["kme", pytest.param("kme-bulk", marks=[pytest.mark.slow, pytest.mark.network])]
)
def test_kme_quick_records_are_well_formed(name: str) -> None:
    records = run_quick(BENCHMARKS, name)
    assert {r.metric for r in records} == METRICS[name]
    for r in records:
        assert_positive_ratio(r, name)
        assert r.baseline
        assert r.target
