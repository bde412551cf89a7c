"""`qkdlink lab up` end to end: real curl against the KMEs, identical keys, clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _curl(node: dict[str, str], ca: str, url: str, *extra: str) -> dict[str, object]:
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--fail-with-body",
            "--cert",
            node["sae_cert"],
            "--key",
            node["sae_key"],
            "--cacert",
            ca,
            *extra,
            url,
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_lab_up_curl_round_trip_and_clean_stop(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    proc = subprocess.Popen(
        [sys.executable, "-m", "qkdlink", "lab", "up", "--dir", str(lab_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "lab up exited early"
            lines.append(line)
            if line.startswith("lab.json:"):
                break
        assert any("hospital-a: KME_hospital-a at https://127.0.0.1:" in x for x in lines)
        lab = json.loads((lab_dir / "lab.json").read_text())
        ca = lab["ca_cert"]
        a, b = lab["nodes"]["hospital-a"], lab["nodes"]["hospital-b"]
        enc = _curl(a, ca, f"{a['kme_url']}/api/v1/keys/{b['sae_id']}/enc_keys?number=2&size=256")
        keys = enc["keys"]
        assert isinstance(keys, list)
        assert len(keys) == 2
        body = json.dumps({"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]})
        dec = _curl(
            b,
            ca,
            f"{b['kme_url']}/api/v1/keys/{a['sae_id']}/dec_keys",
            "-H",
            "Content-Type: application/json",
            "--data",
            body,
        )
        assert dec == enc
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 3  # one KME per node
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "lab stopped" in rest
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
