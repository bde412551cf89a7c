"""The post-processing benchmarks run in --quick mode and produce well-formed records."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks.postprocessing import BENCHMARKS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_records_are_well_formed(name: str) -> None:
    records = BENCHMARKS[name](BenchOptions(quick=True))
    assert records
    for record in records:
        assert record.benchmark == name
        assert record.unit
        assert record.target
        assert record.baseline
        assert math.isfinite(record.value)
        assert record.value >= 0
        assert record.baseline_value is not None
        assert math.isfinite(record.baseline_value)
        assert record.met is not None
        if record.baseline_value:
            assert record.ratio is not None
            assert math.isfinite(record.ratio)
