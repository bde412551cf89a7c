"""`qkdlink sim keyrate` and `qkdlink sim bb84`: the CLI contracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkdlink.cli import main
from qkdlink.errors import ConfigurationError
from simulators.commands import parse_range

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_parse_range_includes_stop_and_rejects_nonsense() -> None:
    assert parse_range("0:20:10") == [0.0, 10.0, 20.0]
    assert parse_range("5") == [5.0]
    for bad in ("a:b:c", "10:0:1", "0:10:0", "1:2"):
        with pytest.raises(ConfigurationError):
            parse_range(bad)


def test_keyrate_json_has_one_record_per_distance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "keyrate", "--distance-km", "0:150:50", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["distance_km"] for r in records] == [0.0, 50.0, 100.0, 150.0]
    for r in records:
        assert {"distance_km", "mu", "key_rate_per_pulse"} <= set(r)
    rates = [r["key_rate_per_pulse"] for r in records]
    assert rates[0] > rates[1] > rates[2] > 0
    assert rates[3] == 0.0  # beyond the ~140 km maximum distance


def test_keyrate_methods_and_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "keyrate", "--distance-km", "20", "--decoy", "none"]) == 0
    out = capsys.readouterr().out
    assert "none" in out
    assert "20.00" in out


def test_keyrate_plot_writes_a_png(tmp_path: Path) -> None:
    target = tmp_path / "rate.png"
    assert main(["sim", "keyrate", "--distance-km", "0:140:20", "--plot", str(target)]) == 0
    data = target.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000


def test_keyrate_bad_range_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "keyrate", "--distance-km", "9:1:1"]) == 2
    assert "ConfigurationError" in capsys.readouterr().err


BB84_FIELDS = {
    "pulses",
    "detections",
    "sifted_bits",
    "qber",
    "ec_leaked_bits",
    "ec_efficiency",
    "ec_frame_error",
    "final_key_bits",
    "secret_key_rate_per_pulse",
    "classical_bytes",
    "aborted",
    "abort_reason",
    "keys_equal",
}
CHEAP_BLOCK = ["--pulses", "5e7", "--distance-km", "0", "--misalignment", "0.01"]


def _bb84_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["sim", "bb84", *CHEAP_BLOCK, "--json", *extra]) == 0
    captured = capsys.readouterr()
    assert "pulse" in captured.err  # the progress bar goes to stderr, never into the JSON
    summary: dict[str, object] = json.loads(captured.out)
    return summary


def test_bb84_json_contract_and_seed_reproducibility(capsys: pytest.CaptureFixture[str]) -> None:
    first = _bb84_json(capsys, "--seed", "5")
    assert set(first) >= BB84_FIELDS
    assert first["pulses"] == 5 * 10**7
    assert first["aborted"] is False
    assert first["keys_equal"] is True
    assert isinstance(first["final_key_bits"], int)
    assert first["final_key_bits"] > 0
    assert _bb84_json(capsys, "--seed", "5") == first
    assert _bb84_json(capsys, "--seed", "6") != first


def test_bb84_intercept_everything_aborts(capsys: pytest.CaptureFixture[str]) -> None:
    summary = _bb84_json(capsys, "--eve-intercept", "1")
    assert summary["aborted"] is True
    assert "QBER" in str(summary["abort_reason"])
    assert abs(float(str(summary["qber"])) - 0.25) < 0.03
    assert summary["final_key_bits"] == 0


def test_bb84_text_summary_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "qber.png"
    assert main(["sim", "bb84", *CHEAP_BLOCK, "--plot", str(target)]) == 0
    out = capsys.readouterr().out
    assert "keys_equal: True" in out
    assert target.read_bytes().startswith(PNG_MAGIC)


def test_bb84_ldpc_runs_the_whole_chain(capsys: pytest.CaptureFixture[str]) -> None:
    summary = _bb84_json(capsys, "--seed", "5", "--ec", "ldpc")
    assert summary["aborted"] is False
    assert summary["ec_frame_error"] is False
    assert summary["keys_equal"] is True
    assert isinstance(summary["final_key_bits"], int)
    assert summary["final_key_bits"] > 0
    assert 1.0 < float(str(summary["ec_efficiency"])) < 2.0
