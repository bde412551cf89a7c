"""The LDPC benchmark runs in --quick mode and produces well-formed records."""

from __future__ import annotations

import pytest

from benchmarks.ldpc import BENCHMARKS
from tests.benchmarks._records import assert_against_target, run_quick


@pytest.mark.slow
def test_ldpc_records_are_well_formed() -> None:
    records = run_quick(BENCHMARKS, "ldpc")
    assert {r.metric for r in records} == {
        f"{kind}_n{n}"
        for kind in ("efficiency", "frame_error_rate", "throughput")
        for n in (10_000, 100_000)
    }
    for record in records:
        assert_against_target(record, "ldpc")
