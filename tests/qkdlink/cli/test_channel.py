"""`qkdlink channel listen|send` end to end: a real two-node lab (KMEs over mutual TLS)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qkdlink.channel._lab import lab_sae_ids, lab_static_keypair
from qkdlink.errors import ConfigurationError
from qkdlink.lab import create_lab, run_lab
from tests.qkdlink.transport._broker import Broker


def test_static_keys_are_created_once_with_private_permissions(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab", nodes=("hospital-a", "hospital-b"))
    lab_json = spec.directory / "lab.json"
    first = lab_static_keypair(lab_json, "hospital-a")
    assert lab_static_keypair(lab_json, "hospital-a") == first
    assert lab_static_keypair(lab_json, "hospital-b") != first
    key_file = spec.directory / "channel-keys" / "hospital-a.x25519"
    assert key_file.stat().st_mode & 0o077 == 0
    assert lab_sae_ids(lab_json)["hospital-b"].endswith("hospital-b")
    with pytest.raises(ConfigurationError):
        lab_static_keypair(lab_json, "../etc")


def test_static_key_created_concurrently_is_one_whole_key(tmp_path: Path) -> None:
    """Two processes (here threads) starting at once: neither may read a half-written key file,
    and both must end up with the same key (was: ConfigurationError 'unreadable static key')."""
    workers = 8
    for attempt in range(20):
        spec = create_lab(tmp_path / f"lab{attempt}", nodes=("hospital-a", "hospital-b"))
        lab_json = spec.directory / "lab.json"
        start = threading.Barrier(workers)

        def one(lab_json: Path = lab_json, start: threading.Barrier = start) -> tuple[bytes, bytes]:
            start.wait()
            return lab_static_keypair(lab_json, "hospital-a")

        with ThreadPoolExecutor(workers) as pool:
            keys = [f.result() for f in [pool.submit(one) for _ in range(workers)]]
        assert len(set(keys)) == 1
        assert not [p for p in (spec.directory / "channel-keys").iterdir() if p.suffix == ".tmp"]


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("transport", ["tcp", "mqtt"])
async def test_send_and_listen_pipe_data_through_a_lab(tmp_path: Path, transport: str) -> None:
    spec = create_lab(tmp_path / "lab", nodes=("hospital-a", "hospital-b"))
    lab_json = str(spec.directory / "lab.json")
    data = os.urandom(300_000)
    broker = Broker(tmp_path)
    common = ["--lab", lab_json, "--transport", transport, "--host", "127.0.0.1"]
    common += ["--broker", f"127.0.0.1:{broker.port}"]
    if transport == "mqtt":
        broker.start()
    try:
        async with run_lab(spec):
            listener = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "qkdlink", "channel", "listen", *common,
                "--node", "hospital-b", "--peer", "hospital-a", "--port", "0",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert listener.stderr is not None
            line = (await asyncio.wait_for(listener.stderr.readline(), 60)).decode()
            port = re.search(r":(\d+)$", line.strip())
            assert port, line
            sender = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "qkdlink", "channel", "send", *common,
                "--node", "hospital-a", "--peer", "hospital-b", "--port", port.group(1),
                stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, send_err = await asyncio.wait_for(sender.communicate(data), 60)
            received, listen_err = await asyncio.wait_for(listener.communicate(), 60)
    finally:
        broker.stop()
    assert sender.returncode == 0, send_err
    assert listener.returncode == 0, listen_err
    assert received == data
