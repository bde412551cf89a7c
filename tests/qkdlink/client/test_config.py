"""KmeClientConfig validation and the lab.json contract (issue 2 point 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qkdlink.client import KmeClientConfig, RetryPolicy
from qkdlink.errors import ConfigurationError


def _lab_json(tmp_path: Path) -> Path:
    path = tmp_path / "lab.json"
    path.write_text(
        json.dumps(
            {
                "ca_cert": "/abs/ca.pem",
                "nodes": {
                    "hospital-a": {
                        "kme_id": "KME_hospital-a",
                        "kme_url": "https://127.0.0.1:8443",
                        "sae_id": "SAE_hospital-a",
                        "sae_cert": "/abs/a.pem",
                        "sae_key": "/abs/a.key",
                    }
                },
                "links": [["hospital-a", "hospital-b"]],
            }
        )
    )
    return path


def test_from_lab(tmp_path: Path) -> None:
    config = KmeClientConfig.from_lab(_lab_json(tmp_path), "hospital-a")
    assert config.url == "https://127.0.0.1:8443"
    assert config.kme_id == "KME_hospital-a"
    assert config.sae_id == "SAE_hospital-a"
    assert (config.cert, config.key, config.ca) == (
        Path("/abs/a.pem"),
        Path("/abs/a.key"),
        Path("/abs/ca.pem"),
    )


def test_from_lab_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="nodes: hospital-a"):
        KmeClientConfig.from_lab(_lab_json(tmp_path), "hospital-z")
    with pytest.raises(ConfigurationError, match="cannot read"):
        KmeClientConfig.from_lab(tmp_path / "missing.json", "hospital-a")
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": {}}')
    with pytest.raises(ConfigurationError, match=r"not a lab\.json"):
        KmeClientConfig.from_lab(bad, "hospital-a")


_BASE: dict[str, Any] = {
    "url": "https://127.0.0.1:8443",
    "kme_id": "KME_a",
    "cert": "c.pem",
    "key": "k.pem",
    "ca": "ca.pem",
}


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "http://127.0.0.1:8443"},
        {"url": "https://127.0.0.1:8443/api"},
        {"url": "https://127.0.0.1:99999"},
        {"url": "https://"},
        {"kme_id": ""},
        {"cert": ""},
        {"connect_timeout": 0},
        {"request_timeout": float("nan")},
        {"max_connections": 0},
        {"max_response_bytes": True},
        {"retry": 3},
    ],
)
def test_invalid_configs(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        KmeClientConfig(**{**_BASE, **changes})


@pytest.mark.parametrize(
    "changes",
    [{"attempts": 0}, {"attempts": 21}, {"base_delay": -1.0}, {"base_delay": 3.0}],
)
def test_invalid_retry_policies(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**changes)


def test_config_is_frozen_and_paths_are_paths() -> None:
    config = KmeClientConfig(**_BASE)
    assert isinstance(config.cert, Path)
    assert config.base_url == "https://127.0.0.1:8443"
    with pytest.raises(AttributeError):
        config.url = "https://x"  # type: ignore[misc]
