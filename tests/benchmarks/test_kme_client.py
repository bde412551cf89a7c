"""The `kme-client` benchmark runs in quick mode and yields a well-formed record."""

from benchmarks.kme_client import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


def test_kme_client_quick_record_is_well_formed() -> None:
    [record] = run_quick(BENCHMARKS, "kme-client")
    assert record.metric == "get_key_median"
    assert_positive_ratio(record, "kme-client", unit="ms")
