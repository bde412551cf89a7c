"""The client's public surface is pinned; `qkdlink.KmeClient` is the same class, loaded lazily."""

from __future__ import annotations

import subprocess
import sys

import qkdlink
import qkdlink.client


def test_client_exports() -> None:
    assert sorted(qkdlink.client.__all__) == [
        "KmeClient",
        "KmeClientConfig",
        "RetryPolicy",
        "SyncKmeClient",
        "client_ssl_context",
        "kme_id_of_certificate",
    ]
    assert qkdlink.KmeClient is qkdlink.client.KmeClient
    assert qkdlink.SyncKmeClient is qkdlink.client.SyncKmeClient
    assert qkdlink.KmeClientConfig is qkdlink.client.KmeClientConfig


def test_import_qkdlink_does_not_load_aiohttp() -> None:
    code = "import sys, qkdlink; sys.exit('aiohttp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
