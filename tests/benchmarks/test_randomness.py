"""The `randomness` benchmark runs in quick mode and yields well-formed records."""

import math

from benchmarks import BenchOptions
from benchmarks.randomness import BENCHMARKS


def test_randomness_quick_records_are_well_formed() -> None:
    records = BENCHMARKS["randomness"](BenchOptions(quick=True))
    assert {r.metric for r in records} == {
        "przs_zero_share_uint64",
        "przs_keystream_consumed",
        "replicated_random_pair_uint64",
    }
    for r in records:
        assert r.benchmark == "randomness"
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline_value is not None
        assert r.baseline_value > 0
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
