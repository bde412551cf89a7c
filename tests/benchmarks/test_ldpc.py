"""The LDPC benchmark runs in --quick mode and produces well-formed records."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks.ldpc import BENCHMARKS


@pytest.mark.slow
def test_ldpc_records_are_well_formed() -> None:
    records = BENCHMARKS["ldpc"](BenchOptions(quick=True))
    assert {r.metric for r in records} == {
        f"{kind}_n{n}"
        for kind in ("efficiency", "frame_error_rate", "throughput")
        for n in (10_000, 100_000)
    }
    for record in records:
        assert record.benchmark == "ldpc"
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
