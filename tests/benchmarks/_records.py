"""Shared by the benchmark tests: run one benchmark in quick mode and check its records' shape."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from benchmarks import BenchOptions, Record

QUICK = BenchOptions(quick=True)


def run_quick(
    benchmarks: Mapping[str, Callable[[BenchOptions], list[Record]]], name: str
) -> list[Record]:
    """Run benchmark `name` in quick mode; it must yield at least one record."""
    records = benchmarks[name](QUICK)
    assert records
    return records


def assert_positive_ratio(record: Record, benchmark: str, *, unit: str | None = None) -> None:
    """`record` belongs to `benchmark` (in `unit`, when given), with a finite positive value, a
    positive baseline value and a finite ratio."""
    assert record.benchmark == benchmark
    if unit is not None:
        assert record.unit == unit
    assert math.isfinite(record.value)
    assert record.value > 0
    assert record.baseline_value is not None
    assert record.baseline_value > 0
    assert record.ratio is not None
    assert math.isfinite(record.ratio)


def assert_against_target(record: Record, benchmark: str) -> None:
    """`record` belongs to `benchmark` and is judged against a target: a unit, target, named
    baseline and verdict, a finite value that may be zero (an error rate), and a ratio whenever
    the baseline value is non-zero (`compare` gives none against a zero baseline)."""
    assert record.benchmark == benchmark
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
