"""The channel benchmarks run in quick mode and yield well-formed records (not the targets)."""

from __future__ import annotations

import math

import pytest

from benchmarks import BenchOptions
from benchmarks import Record as _Record
from benchmarks.channel import BENCHMARKS

QUICK = BenchOptions(quick=True)


def _check(records: list[_Record], benchmark: str, metrics: list[str], unit: str) -> None:
    assert [r.metric for r in records] == metrics
    for r in records:
        assert r.benchmark == benchmark
        assert r.unit == unit
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline
        assert r.baseline_value is not None
        assert r.baseline_value > 0
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
        assert r.met is not None


@pytest.mark.slow
def test_channel_throughput_quick() -> None:
    records = BENCHMARKS["channel-throughput"](QUICK)
    assert [r.unit for r in records] == ["MB/s", "messages/s"]
    _check(records[:1], "channel-throughput", ["throughput_64KiB"], "MB/s")
    _check(records[1:], "channel-throughput", ["messages_1KiB"], "messages/s")


@pytest.mark.network
@pytest.mark.slow
def test_mqtt_quick() -> None:
    records = BENCHMARKS["mqtt"](QUICK)
    metrics = ["messages_1KiB_vs_plain", "messages_1KiB_vs_pipelined"]
    _check(records, "mqtt", metrics, "messages/s")


@pytest.mark.slow
def test_large_array_quick() -> None:
    records = BENCHMARKS["large-array"](QUICK)
    _check(records, "large-array", ["peak_rss_sender", "peak_rss_receiver"], "MiB")
    assert all(r.baseline_value == 64 for r in records)
