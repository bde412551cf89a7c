"""The `handshake` benchmark runs in quick mode and yields well-formed records."""

from __future__ import annotations

from benchmarks.handshake import BENCHMARKS
from tests.benchmarks._records import assert_positive_ratio, run_quick


def test_handshake_quick_records_are_well_formed() -> None:
    records = run_quick(BENCHMARKS, "handshake")
    assert [r.metric for r in records] == ["hybrid_qkd_x25519_mlkem", "hybrid_vs_tls13"]
    for r in records:
        assert_positive_ratio(r, "handshake", unit="handshakes/s")
        assert r.met is not None
