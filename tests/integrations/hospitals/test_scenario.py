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


async def test_failed_mesh_start_closes_every_mesh_at_once() -> None:
    import asyncio
    import contextlib
    import time
    from typing import Any

    from integrations.hospitals._scenario import start_meshes
    from qkdlink.errors import HandshakeError
    from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig

    net = MemoryNetwork()

    class CannotDial:
        """a's transport: its handshakes fail at once (e.g. a wrong static key)."""

        def __init__(self) -> None:
            self.inner = net.transport("a")

        async def listen(self, handler: Any) -> None:
            await self.inner.listen(handler)

        async def dial(self, peer: str) -> Any:
            raise HandshakeError(f"handshake with {peer} failed")

        async def aclose(self) -> None:
            await self.inner.aclose()

    parties = ("a", "b", "c")
    meshes = [
        Mesh(MeshConfig("a", parties, connect_timeout=30), CannotDial()),
        *(Mesh(MeshConfig(p, parties, connect_timeout=30), net.transport(p)) for p in "bc"),
    ]
    began = time.monotonic()
    with pytest.raises(HandshakeError):
        async with contextlib.AsyncExitStack() as stack:
            await start_meshes(meshes, stack)
    # b and c did not wait out their 30 s connect timeout, and nobody is left listening.
    assert time.monotonic() - began < 5
    assert net.listeners == {}
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("mesh-")]
