"""The `handshake` benchmark runs in quick mode and yields well-formed records."""

from __future__ import annotations

import math

from benchmarks import BenchOptions
from benchmarks.handshake import BENCHMARKS


def test_handshake_quick_records_are_well_formed() -> None:
    records = BENCHMARKS["handshake"](BenchOptions(quick=True))
    assert [r.metric for r in records] == ["hybrid_qkd_x25519_mlkem", "hybrid_vs_tls13"]
    for r in records:
        assert r.benchmark == "handshake"
        assert r.unit == "handshakes/s"
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline_value is not None
        assert r.baseline_value > 0
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
        assert r.met is not None
