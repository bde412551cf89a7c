"""The `kme-client` benchmark runs in quick mode and yields a well-formed record."""

import math

from benchmarks import BenchOptions
from benchmarks.kme_client import BENCHMARKS


def test_kme_client_quick_record_is_well_formed() -> None:
    [record] = BENCHMARKS["kme-client"](BenchOptions(quick=True))
    assert (record.benchmark, record.metric, record.unit) == (
        "kme-client",
        "get_key_median",
        "ms",
    )
    assert math.isfinite(record.value)
    assert record.value > 0
    assert record.baseline_value is not None
    assert record.baseline_value > 0
    assert record.ratio is not None
    assert math.isfinite(record.ratio)
