"""The harness: record format contract, discovery, and every benchmark runs in --quick mode."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import BenchOptions, compare, discover
from benchmarks.__main__ import main
from benchmarks._harness import format_table, write_json

RECORD_KEYS = {
    "benchmark",
    "metric",
    "value",
    "unit",
    "baseline",
    "baseline_value",
    "ratio",
    "target",
}


def test_record_json_has_exactly_the_contract_keys(tmp_path: Path) -> None:
    rec = compare("x", "m", 3.0, "ms", baseline="b", baseline_value=2.0, target="t", met=True)
    assert rec.ratio == 1.5
    out = tmp_path / "r.json"
    write_json([rec], out)
    data = json.loads(out.read_text())
    assert isinstance(data, list)
    assert set(data[0]) == RECORD_KEYS
    assert data[0]["ratio"] == 1.5


def test_table_marks_missed_targets() -> None:
    rec = compare("x", "m", 3.0, "ms", baseline="b", baseline_value=2.0, target="t", met=False)
    assert "NO" in format_table([rec])


def test_list_runs_discovery(capsys: object) -> None:
    assert main(["--list"]) == 0
    assert isinstance(discover(), dict)
    assert BenchOptions(quick=True).quick
