"""The whole three-hospital scenario through a KME lab and quantum-keyed channels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from integrations.hospitals import ScenarioOptions, format_report, run_scenario


@pytest.mark.slow
async def test_scenario_meets_its_checks_over_tcp() -> None:
    report = await run_scenario(ScenarioOptions(key_source="test", rounds=300))
    results = report["results"]
    assert results["secure_aggregation"]["difference_pp"] <= 1.0
    assert results["private_diagnosis"]["max_abs_score_difference"] <= 1e-3
    assert results["mpyc_secure_mean"]["ok"]
    assert report["ok"]
    assert report["keys"]["consumed_by_purpose"]["handshakes"] == 3
    assert report["keys"]["consumed_by_purpose"]["seeds"] == {"przs/training": 3}
    assert all(t["bytes_a_to_b"] > 0 for t in report["traffic"])
    text = format_report(report)
    assert "overall: OK" in text


@pytest.mark.slow
@pytest.mark.network
def test_demo_cli_over_mqtt_prints_json() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qkdlink",
            "demo",
            "--transport",
            "mqtt",
            "--key-source",
            "test",
            "--rounds",
            "50",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["transport"] == "mqtt"
    assert report["ok"] is True
    assert "secure aggregation" in out.stderr  # progress went to stderr
