"""The post-processing benchmarks run in --quick mode and produce well-formed records."""

from __future__ import annotations

import pytest

from benchmarks.postprocessing import BENCHMARKS
from tests.benchmarks._records import assert_against_target, run_quick


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_postprocessing_records_are_well_formed(name: str) -> None:
    for record in run_quick(BENCHMARKS, name):
        assert_against_target(record, name)
