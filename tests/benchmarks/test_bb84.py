"""The BB84 benchmarks run in --quick mode and produce well-formed records with baselines."""

from __future__ import annotations

import math

import pytest

from benchmarks.bb84 import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_bb84_records_are_well_formed(name: str) -> None:
    for record in run_quick(BENCHMARKS, name):
        assert_positive_ratio(record, name)
        assert record.baseline
        assert record.baseline_value is not None
        assert math.isfinite(record.baseline_value)
        assert record.met is not None
