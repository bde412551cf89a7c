"""The whole three-hospital scenario through a KME lab and quantum-keyed channels."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from integrations.hospitals import format_report
from integrations.hospitals._data import HOSPITALS
from integrations.hospitals._scenario import REKEY_BYTES
from qkdlink.errors import ConfigurationError
from qkdlink.keysource import LinkStatistics
from simulators.bb84 import LinkConfig, default_block_pulses
from simulators.keyrate import DecoyMethod, key_rate

DISTANCE_KM = 10.0
"""The scenario's links (the lab's default: no distance in the key source table)."""
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


def _expected_qber(config: LinkConfig) -> float:
    """Z-basis error rate of the sifted key bits, all intensity classes (the key fed to error
    correction): Σ p_c·E_c·Q_c / Σ p_c·Q_c, with Q and E of Ma et al. 2005, Eqs. 8-9 (the
    vacuum class: dark counts only, half of them errors)."""
    device = config.device_parameters()
    eta = config.transmittance
    errors = sum(
        c.probability * device.error_rate(c.intensity, eta) * device.gain(c.intensity, eta)
        for c in config.pulse_classes
    )
    return errors / _click_probability(config)


def _click_probability(config: LinkConfig) -> float:
    device = config.device_parameters()
    eta = config.transmittance
    return sum(c.probability * device.gain(c.intensity, eta) for c in config.pulse_classes)


def _assert_link_physics(link: dict[str, Any]) -> None:
    """The report's QBER and key rate are those both KMEs' key sources report for the configured
    simulated link: every attempt they ran so far, the QBER pooled over the accepted blocks.

    Tolerances are 6 standard deviations of the reported sample sizes, so a QBER or rate from
    another link configuration, other attempts or another formula fails.
    """
    config = LinkConfig(distance_km=DISTANCE_KM)
    stats = link["statistics"]
    assert link["source"].startswith("bb84")
    assert link["distance_km"] == DISTANCE_KM
    # Read from the KMEs at both ends, which reported identical figures after the same attempts.
    assert link["read_from"] == link["link"].split("--")
    assert link["ends_agree"] is True
    # Attempts: aborted ones cost pulses and link time, at the source's pulse rate.
    attempts, accepted = stats["attempts"], stats["accepted_blocks"]
    assert 1 <= accepted <= attempts
    assert stats["aborted_attempts"] == attempts - accepted
    assert stats["pulses"] == attempts * default_block_pulses(config)
    assert stats["link_seconds"] == pytest.approx(stats["pulses"] / config.pulse_rate_hz)
    # Clicks and sifting of all attempts, against the channel model.
    clicks = stats["pulses"] * _click_probability(config)
    assert abs(stats["detections"] - clicks) <= 6 * math.sqrt(clicks)
    p_z = config.basis_probability_z
    p_sift = p_z**2 + (1 - p_z) ** 2
    sifted = stats["detections"] * p_sift
    assert abs(stats["sifted_bits"] - sifted) <= 6 * math.sqrt(sifted * (1 - p_sift))
    assert stats["accepted_sifted_bits"] <= stats["sifted_bits"]
    if accepted == attempts:
        assert stats["accepted_sifted_bits"] == stats["sifted_bits"]
    # QBER of the accepted blocks' n Z-basis key bits: misalignment plus half the dark counts'.
    n_z = stats["accepted_sifted_bits"] * p_z**2 / p_sift
    expected = _expected_qber(config)
    assert 0.0325 < expected < 0.0335  # e_d = 3.3% dominates at 10 km
    assert link["qber"] == pytest.approx(stats["qber"], abs=1e-6)
    assert abs(link["qber"] - expected) <= 6 * math.sqrt(expected * (1 - expected) / n_z) + 1e-5
    # Key rate: net key bits over the link time of every attempt, below the asymptotic
    # decoy-state rate of the same devices with this basis choice (finite blocks cannot beat it).
    bits = stats["net_key_bits"]
    assert 0 < bits < n_z
    assert bits % 8 == 0
    assert link["secret_key_rate_bps"] == pytest.approx(bits / stats["link_seconds"], abs=0.1)
    assert stats["secret_key_rate_bps"] == pytest.approx(bits / stats["link_seconds"])
    device = replace(config.device_parameters(), sifting_factor=p_z**2)
    asymptotic_bps = config.pulse_rate_hz * key_rate(
        config.signal_intensity, DISTANCE_KM, DecoyMethod.VACUUM_WEAK, device
    )
    assert 0.05 * asymptotic_bps < link["secret_key_rate_bps"] < asymptotic_bps


@pytest.mark.slow
def test_demo_cli_over_tcp_on_bb84_links_prints_json() -> None:
    """`qkdlink demo --json` as `make demo` runs it: TCP, simulated BB84 links, 300 rounds."""
    out = subprocess.run(
        [sys.executable, "-m", "qkdlink", "demo", "--key-source", "bb84", "--json"],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "secure aggregation" in out.stderr  # progress went to stderr, JSON alone to stdout
    report = json.loads(out.stdout)
    assert (report["transport"], report["key_source"], report["ok"]) == ("tcp", "bb84", True)
    results = report["results"]
    assert results["secure_aggregation"]["difference_pp"] <= 1.0
    assert results["secure_aggregation"]["all_hospitals_same_model"] is True
    assert results["private_diagnosis"]["max_abs_score_difference"] <= 1e-3
    assert results["private_diagnosis"]["patients"] == 5
    assert results["mpyc_secure_mean"]["ok"] is True
    assert [link["link"] for link in report["links"]] == [
        f"{a}--{b}" for a, b in itertools.combinations(HOSPITALS, 2)
    ]
    for link in report["links"]:
        _assert_link_physics(link)
    keys = report["keys"]
    # What each KME counted it delivered is what its hospital's SAE counted it fetched.
    assert keys["delivered_by_kme"] == keys["fetched_by_sae"]
    assert keys["consumed_by_purpose"]["handshakes"] == 3
    assert keys["consumed_by_purpose"]["seeds"] == {"przs/training": 3}
    # The ~35 MB CKKS context exceeds the channels' rekey byte limit: the rekey keys the SAEs
    # fetched are the rekeys the channels themselves completed, and they are in the sums below.
    rekeys = keys["consumed_by_purpose"]["rekeys"]
    assert rekeys >= 1
    assert rekeys == keys["rekeys_completed_by_channels"]
    context_link = next(t for t in report["traffic"] if t["link"] == "hospital-a--hospital-c")
    assert rekeys >= context_link["bytes_b_to_a"] // REKEY_BYTES - 1
    _assert_keys_add_up(keys)
    assert [t["link"] for t in report["traffic"]] == [link["link"] for link in report["links"]]
    assert all(t["bytes_a_to_b"] > 0 and t["bytes_b_to_a"] > 0 for t in report["traffic"])
    phases = report["phases_s"]
    assert list(phases) == PHASES
    assert all(math.isfinite(s) and s > 0 for s in phases.values())
    assert report["total_s"] >= sum(phases.values())
    text = format_report(report)
    assert "overall: OK" in text
    assert f"QBER {report['links'][0]['qber']:.4g}" in text
    assert text.count(" so far: ") == 3
    assert "not compared" not in text


def _report_with(link: dict[str, Any]) -> dict[str, Any]:
    """A small finished report around one link entry (for the text form)."""
    keys = {"enc_keys": 1, "dec_keys": 0}
    return {
        "transport": "tcp",
        "key_source": link["source"],
        "total_s": 1.0,
        "links": [link],
        "keys": {
            "delivered_by_kme": {"a": keys},
            "fetched_by_sae": {"a": keys},
            "consumed_by_purpose": {"handshakes": 1, "rekeys": 0, "seeds": {}},
        },
        "traffic": [],
        "phases_s": {"lab": 0.5},
        "results": {
            "secure_aggregation": {
                "joint_accuracy": 0.9,
                "centralised_accuracy": 0.9,
                "difference_pp": 0.0,
                "all_hospitals_same_model": True,
                "ok": True,
            },
            "private_diagnosis": {
                "patients": 1,
                "client": "c",
                "server": "a",
                "max_abs_score_difference": 0.0,
                "diagnoses": ["benign"],
                "ok": True,
            },
            "mpyc_secure_mean": {
                "feature": "f",
                "mpyc_mean": None,
                "plaintext_mean": 1.0,
                "ok": False,
            },
        },
        "ok": False,
    }


def test_report_text_without_link_physics() -> None:
    """A test-source lab has no QBER or key rate: the text says n/a instead of failing."""
    link = {"link": "a--b", "source": "test", "qber": None, "secret_key_rate_bps": None}
    report = _report_with(link)
    text = format_report(report)
    assert "a--b  " in text
    assert "QBER n/a" in text
    assert "so far" not in text
    assert "overall: FAILED" in text


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
    assert all(link["qber"] is None for link in report["links"])  # the test source: no physics
    assert report["keys"]["delivered_by_kme"] == report["keys"]["fetched_by_sae"]
    _assert_keys_add_up(report["keys"])
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


class _ReadingsLab:
    """A lab whose KMEs' sources have run the given attempts of one link (their histories)."""

    def __init__(self, **histories: list[LinkStatistics]) -> None:
        self.histories = histories

    def link_statistics(
        self, node: str, link_id: str, attempts: int | None = None
    ) -> LinkStatistics | None:
        assert link_id == "a--b"
        history = self.histories[node]
        if attempts is None:
            return history[-1] if history else None
        return history[attempts - 1] if 1 <= attempts <= len(history) else None


def _attempts(n: int, qber: float = 0.03) -> LinkStatistics:
    stats = LinkStatistics()
    for _ in range(n):
        stats = stats.after_attempt(
            pulses=10**6,
            link_seconds=1e-3,
            detections=100,
            sifted_bits=50,
            accepted=True,
            qber=qber,
            net_key_bits=8,
        )
    return stats


def _history(n: int, qber: float = 0.03) -> list[LinkStatistics]:
    return [_attempts(i, qber) for i in range(1, n + 1)]


def test_link_figures_are_compared_at_the_attempts_both_ends_finished() -> None:
    from integrations.hospitals._scenario import _agreed_statistics

    # b stopped one attempt behind a (a full pool pauses each source on its own): compared at 2.
    lab: Any = _ReadingsLab(a=_history(3), b=_history(2))
    assert _agreed_statistics(lab, "a--b", ["a", "b"]) == (_attempts(2), True)
    # Sources that report nothing (the test source): nothing to compare.
    quiet: Any = _ReadingsLab(a=[], b=[])
    assert _agreed_statistics(quiet, "a--b", ["a", "b"]) == (None, False)


def test_kmes_disagreeing_on_a_link_is_an_error() -> None:
    from integrations.hospitals._scenario import _agreed_statistics

    # They agree after the first attempt and differ after the second, the last both finished.
    aborted = _attempts(1).after_attempt(
        pulses=10**6, link_seconds=1e-3, detections=100, sifted_bits=50, accepted=False
    )
    b = [*_history(1), aborted]
    lab: Any = _ReadingsLab(a=_history(3), b=b)
    with pytest.raises(ConfigurationError, match="disagree after 2 attempts"):
        _agreed_statistics(lab, "a--b", ["a", "b"])


def test_one_end_without_attempts_is_reported_unchecked() -> None:
    from integrations.hospitals._scenario import _agreed_statistics

    lab: Any = _ReadingsLab(a=_history(3), b=[])
    stats, checked = _agreed_statistics(lab, "a--b", ["a", "b"])
    assert (stats, checked) == (_attempts(3), False)
    assert stats is not None
    link = {"link": "a--b", "source": "bb84", "qber": stats.qber, "secret_key_rate_bps": 1.0}
    text = format_report(_report_with(link | {"statistics": stats.to_json(), "ends_agree": False}))
    assert "so far: 24 key bits from 3 blocks (0 aborted)" in text
    assert "not compared at both ends" in text
