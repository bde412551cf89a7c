"""The `etsi014` benchmark runs in quick mode and yields well-formed records."""

import math

from benchmarks import BenchOptions
from benchmarks.etsi014 import BENCHMARKS


def test_etsi014_quick_records_are_well_formed() -> None:
    records = BENCHMARKS["etsi014"](BenchOptions(quick=True))
    assert {r.metric for r in records} == {"key_container_parse", "key_container_serialize"}
    for r in records:
        assert r.benchmark == "etsi014"
        assert r.unit == "keys/s"
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline_value is not None
        assert r.baseline_value > 0
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
