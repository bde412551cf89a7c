"""The `etsi014` benchmark runs in quick mode and yields well-formed records."""

from benchmarks.etsi014 import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


def test_etsi014_quick_records_are_well_formed() -> None:
    records = run_quick(BENCHMARKS, "etsi014")
    assert {r.metric for r in records} == {"key_container_parse", "key_container_serialize"}
    for r in records:
        assert_positive_ratio(r, "etsi014", unit="keys/s")
