"""The `kme` and `kme-bulk` benchmarks run in quick mode and yield well-formed records."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks.kme import BENCHMARKS

METRICS = {
    "kme": {"enc_dec_round_trip_median", "durable_store_floor_median"},
    "kme-bulk": {"enc_keys_per_s", "dec_keys_per_s"},
}


@pytest.mark.parametrize(
    "name", ["kme", pytest.param("kme-bulk", marks=[pytest.mark.slow, pytest.mark.network])]
)
def test_kme_quick_records_are_well_formed(name: str) -> None:
    records = BENCHMARKS[name](BenchOptions(quick=True))
    assert {r.metric for r in records} == METRICS[name]
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
