"""The channel benchmarks run in quick mode and yield well-formed records (not the targets)."""

from __future__ import annotations

import pytest

from benchmarks import Record
from benchmarks.channel import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


def _check(records: list[Record], benchmark: str, metrics: list[str], unit: str) -> None:
    assert [r.metric for r in records] == metrics
    for r in records:
        assert_positive_ratio(r, benchmark, unit=unit)
        assert r.baseline
        assert r.met is not None


@pytest.mark.slow
def test_channel_throughput_quick() -> None:
    records = run_quick(BENCHMARKS, "channel-throughput")
    assert [r.unit for r in records] == ["MB/s", "messages/s"]
    _check(records[:1], "channel-throughput", ["throughput_64KiB"], "MB/s")
    _check(records[1:], "channel-throughput", ["messages_1KiB"], "messages/s")


@pytest.mark.network
@pytest.mark.slow
def test_mqtt_quick() -> None:
    records = run_quick(BENCHMARKS, "mqtt")
    metrics = ["messages_1KiB_vs_plain", "messages_1KiB_vs_pipelined"]
    _check(records, "mqtt", metrics, "messages/s")


@pytest.mark.slow
def test_large_array_quick() -> None:
    records = run_quick(BENCHMARKS, "large-array")
    _check(records, "large-array", ["peak_rss_sender", "peak_rss_receiver"], "MiB")
    assert all(r.baseline_value == 64 for r in records)
