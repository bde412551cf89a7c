"""`qkdlink kme`, `qkdlink pki` and `qkdlink demo --round-trip` on the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qkdlink.cli import main


def test_kme_serve_with_a_bad_config_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "kme.toml"
    config.write_text('kme_id = "bad id"\nsae_ids = []\n')
    assert main(["kme", "serve", "--config", str(config)]) == 2
    assert "ConfigurationError" in capsys.readouterr().err
    assert main(["kme", "serve", "--config", str(tmp_path / "missing.toml")]) == 2


def test_pki_commands_write_a_ca_and_certificates(tmp_path: Path) -> None:
    assert main(["pki", "ca", "--dir", str(tmp_path)]) == 0
    assert main(["pki", "kme", "KME_x", "--ca-dir", str(tmp_path), "--out", str(tmp_path)]) == 0
    assert main(["pki", "sae", "SAE_x", "--ca-dir", str(tmp_path), "--out", str(tmp_path)]) == 0
    for name in ("ca.pem", "ca-key.pem", "KME_x.pem", "KME_x-key.pem", "SAE_x.pem"):
        assert (tmp_path / name).exists()
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "SAE_x.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr


@pytest.mark.slow
def test_demo_command_exits_zero_without_key_bytes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qkdlink", "demo", "--round-trip"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "match" in out.stdout
    assert '"key"' not in out.stdout
