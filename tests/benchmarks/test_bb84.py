"""The BB84 benchmarks run in --quick mode and produce well-formed records with baselines."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks.bb84 import BENCHMARKS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_records_are_well_formed(name: str) -> None:
    records = BENCHMARKS[name](BenchOptions(quick=True))
    assert records
    for record in records:
        assert record.benchmark == name
        assert math.isfinite(record.value)
        assert record.value > 0
        assert record.baseline
        assert record.baseline_value is not None
        assert math.isfinite(record.baseline_value)
        assert record.baseline_value > 0
        assert record.ratio is not None
        assert math.isfinite(record.ratio)
        assert record.met is not None
