"""The whole three-hospital scenario through a KME lab and quantum-keyed channels."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest

from integrations.hospitals import ScenarioOptions, format_report, run_scenario
from integrations.hospitals._data import HOSPITALS

PHASES = ["lab", "qkd keys", "mesh", "secure aggregation", "private diagnosis", "mpyc secure mean"]


def _assert_keys_add_up(keys: dict[str, Any]) -> None:
    """Every key a KME delivered is one a purpose consumed, fetched once at each end.

    The lower-ranked party of a pair is both the channel initiator (it dials) and the seed master
    (lower id): it fetches enc_keys, its peer fetches the same keys by ID (dec_keys). The mesh
    sends no one-time-pad records, so handshakes, rekeys and seeds are all the keys there are.
    """
    delivered = keys["delivered_by_kme"]
    used = keys["consumed_by_purpose"]
    assert list(delivered) == list(HOSPITALS)
    consumed = used["handshakes"] + used["rekeys"] + sum(used["seeds"].values())
    assert sum(d["enc_keys"] for d in delivered.values()) == consumed
    assert sum(d["dec_keys"] for d in delivered.values()) == consumed
    first, *_, last = HOSPITALS
    assert delivered[first]["dec_keys"] == 0  # master of every pair
    assert delivered[last]["enc_keys"] == 0  # slave of every pair
    # hospital-a's keys: one handshake and one PRZS seed per peer, plus its channels' rekeys.
    assert delivered[first]["enc_keys"] >= 2 * (len(HOSPITALS) - 1)


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
    _assert_keys_add_up(report["keys"])
    phases = report["phases_s"]
    assert list(phases) == PHASES
    assert all(math.isfinite(s) and s > 0 for s in phases.values())
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
