"""The `randomness` benchmark runs in quick mode and yields well-formed records."""

from benchmarks.randomness import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


def test_randomness_quick_records_are_well_formed() -> None:
    records = run_quick(BENCHMARKS, "randomness")
    assert {r.metric for r in records} == {
        "przs_zero_share_uint64",
        "przs_keystream_consumed",
        "replicated_random_pair_uint64",
    }
    for r in records:
        assert_positive_ratio(r, "randomness")
