"""The three-hospital scenario: a lab of KMEs and QKD links, a quantum-keyed mesh, three phases.

1. secure aggregation: joint logistic regression (PRZS-masked fixed-point gradients);
2. private diagnosis: CKKS scoring of a client hospital's patients by a server hospital;
3. an MPyC secure mean of a feature, MPyC's connections tunnelled through the mesh.
All three hospitals run in this process (one event loop); each has its own KME (in-process,
SQLite), SAE client, channel keys and mesh endpoint, and uses only its own data.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from integrations.hospitals._data import HOSPITALS, load_split
from integrations.hospitals._diagnosis import diagnosis_client, diagnosis_server
from integrations.hospitals._keys import CountingKeyProvider
from integrations.hospitals._training import (
    TrainingConfig,
    fit_centralised,
    predict,
    train_jointly,
)
from integrations.mpyc import run_mpyc_party
from qkdlink.errors import ConfigurationError
from qkdlink.mesh import Mesh

if TYPE_CHECKING:
    from qkdlink.keysource import LinkStatistics
    from qkdlink.lab import Lab

__all__ = ["ScenarioOptions", "run_scenario", "start_meshes"]


async def start_meshes(meshes: list[Mesh], stack: contextlib.AsyncExitStack) -> None:
    """Start every mesh together; each is closed by `stack`, even when a start fails.

    One failed start cancels the others (they would otherwise keep listening and dialling until
    their connect timeout, with nobody left to close them).

    Raises:
        PartyDisconnectedError: a party did not connect; the first start error is raised.
    """
    for mesh in meshes:
        stack.push_async_callback(mesh.aclose)  # aclose is safe on a mesh that never started
    starts = [asyncio.create_task(m.start(), name=f"start-{m.party}") for m in meshes]
    try:
        await asyncio.gather(*starts)
    finally:
        for task in starts:
            task.cancel()
        await asyncio.gather(*starts, return_exceptions=True)


CLIENT, SERVER = "hospital-c", "hospital-a"
FEATURE = 0  # "mean radius"
MESH_TAGS = ("train/", "diagnosis/", "tun/")
"""The tag prefixes the phases use (training sums, the CKKS channel, MPyC's tunnel); a peer's
message under any other tag (besides the mesh's own) is refused on arrival."""
REKEY_BYTES = 12 << 20
"""Channel payload bytes in one direction before the initiator rekeys with a fresh QKD key
(`ChannelConfig.rekey_bytes`): small enough that the ~35 MB CKKS context the diagnosis client
sends rekeys its channel a few times within the run, as a long-lived link would over time."""


@dataclass(frozen=True, slots=True)
class ScenarioOptions:
    """How to run the scenario."""

    transport: Literal["tcp", "mqtt"] = "tcp"
    key_source: Literal["auto", "bb84", "test"] = "auto"
    rounds: int = 300
    patients: int = 5
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    progress: Callable[[str], object] = field(default=lambda _m: None, compare=False)


class _Clock:
    def __init__(self, progress: Callable[[str], object]) -> None:
        self.start = time.monotonic()
        self.phases: dict[str, float] = {}
        self._progress = progress

    def say(self, message: str) -> None:
        self._progress(f"[{time.monotonic() - self.start:6.1f}s] {message}")

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        self.say(f"{name} ...")
        yield
        self.phases[name] = round(time.monotonic() - began, 3)
        self.say(f"{name} done in {self.phases[name]:.1f} s")


def _mesh_bases() -> list[tuple[str, int]]:
    """Three free loopback base ports, 3 apart (a hospital listens on base + peer rank)."""
    bases: list[int] = []
    while len(bases) < len(HOSPITALS):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(abs(port - b) >= len(HOSPITALS) for b in bases) and port < 65000:
            bases.append(port)
    return [("127.0.0.1", b) for b in bases]


def _choose_key_source(wanted: str) -> Literal["bb84", "test"]:
    if wanted == "test":
        return "test"
    try:
        import simulators.bb84  # noqa: F401
    except ImportError:
        if wanted == "bb84":
            raise ConfigurationError("the BB84 simulator is not installed") from None
        return "test"
    return "bb84"


def _link_ends(lab: Lab) -> dict[str, list[str]]:
    """Each link of the lab (in the KMEs' config order) and the two nodes at its ends."""
    ends: dict[str, list[str]] = {}
    for node in HOSPITALS:
        for peer in lab.servers[node].config.peers:
            ends.setdefault(peer.link_id, []).append(node)
    return ends


def _agreed_statistics(
    lab: Lab, link_id: str, ends: list[str]
) -> tuple[LinkStatistics | None, bool]:
    """The figures both KMEs of a link report after the attempts both have finished.

    The two ends' sources run apart (a full pool pauses each after its own last block), so they
    are compared at the attempt count both reached. Returns the figures and whether both ends
    were compared (False: one end has finished no attempt yet, or no longer keeps that point;
    the figures are then the other end's latest).

    Raises:
        ConfigurationError: the two ends' sources, identical by construction, report different
            figures after the same attempts.
    """
    latest = [lab.link_statistics(node, link_id) for node in ends]
    reached = [s for s in latest if s is not None]
    if len(reached) < 2:
        return (reached[0] if reached else None), False
    common = min(s.attempts for s in reached)
    first, second = (lab.link_statistics(node, link_id, common) for node in ends)
    if first is None or second is None:
        return max(reached, key=lambda s: s.attempts), False
    if first != second:
        raise ConfigurationError(
            f"link {link_id}: its KMEs' key sources disagree after {common} attempts "
            f"({ends[0]}: {first}; {ends[1]}: {second})"
        )
    return first, True


def _link_physics(lab: Lab, source: str) -> list[dict[str, Any]]:
    """Per link: QBER and secret key rate of the running link so far, as both its KMEs' key
    sources report them (`Lab.link_statistics`); None for the test source (no link physics)."""
    links: list[dict[str, Any]] = []
    for link_id, ends in _link_ends(lab).items():
        stats, checked = _agreed_statistics(lab, link_id, ends)
        if stats is None:
            links.append(
                {"link": link_id, "source": source, "qber": None, "secret_key_rate_bps": None}
            )
            continue
        peer = next(p for p in lab.servers[ends[0]].config.peers if p.link_id == link_id)
        links.append(
            {
                "link": link_id,
                "source": "bb84 (simulated, decoy-state)",
                "distance_km": float(peer.key_source.params.get("distance_km", 10.0)),
                "qber": None if stats.qber is None else round(stats.qber, 6),
                "secret_key_rate_bps": round(stats.secret_key_rate_bps, 1),
                "statistics": stats.to_json(),
                "read_from": ends,
                "ends_agree": checked,
            }
        )
    return links


async def _wait_for_keys(clients: dict[str, Any], sae_ids: dict[str, str], clock: _Clock) -> None:
    deadline = time.monotonic() + 240
    for node, client in clients.items():
        for peer in HOSPITALS:
            if peer == node:
                continue
            while (await client.status(sae_ids[peer])).stored_key_count < 1:
                if time.monotonic() > deadline:
                    raise ConfigurationError(f"no QKD key on link {node}-{peer} after 240 s")
                await asyncio.sleep(0.25)
    clock.say("every QKD link has key material in both KMEs")


async def run_scenario(options: ScenarioOptions) -> dict[str, Any]:
    """Run everything; returns the report (a JSON-ready dict, with "ok" for the checks)."""
    from qkdlink.channel import ChannelConfig, KmeKeyProvider, lab_sae_ids, lab_static_keypair
    from qkdlink.client import KmeClient, KmeClientConfig
    from qkdlink.kme import LimitsConfig
    from qkdlink.lab import create_lab, run_lab
    from qkdlink.mesh import ChannelMeshTransport, MeshConfig, MqttBroker, TcpBasePorts

    clock = _Clock(options.progress)
    source = _choose_key_source(options.key_source)
    data = load_split()
    report: dict[str, Any] = {"transport": options.transport, "key_source": source}

    with tempfile.TemporaryDirectory(prefix="qkdlink-hospitals-") as tmp:
        with clock.phase("lab"):
            if source == "bb84":
                from simulators.bb84 import warm_up

                # Six simulated links would otherwise compile the kernels inside their first
                # blocks, with nothing on screen for half a minute on a fresh checkout.
                clock.say("loading the BB84 kernels (compiled by numba on a first run, ~30 s)")
                await asyncio.to_thread(warm_up)
                clock.say("BB84 kernels ready")
            # A small pool cap: the KMEs store only a few blocks, and a full pool stops the
            # simulated links after one block read ahead (they resume as keys are taken), so
            # they do not compete with the phases for CPU. The report's per-link figures count
            # every attempt the sources finished.
            limits = LimitsConfig(max_key_count=64, max_key_per_request=64)
            spec = create_lab(tmp, nodes=HOSPITALS, key_source=source, limits=limits)
            lab_json = spec.directory / "lab.json"
            clock.say(
                f"3 KMEs, links {', '.join('-'.join(link) for link in spec.links)}, "
                f"key source {source}"
            )
        async with contextlib.AsyncExitStack() as stack:
            lab = await stack.enter_async_context(run_lab(spec))
            sae_ids = lab_sae_ids(lab_json)
            clients = {
                h: await stack.enter_async_context(KmeClient(KmeClientConfig.from_lab(lab_json, h)))
                for h in HOSPITALS
            }
            counts = {h: Counter[str]() for h in HOSPITALS}
            with clock.phase("qkd keys"):
                await _wait_for_keys(clients, sae_ids, clock)

            statics = {h: lab_static_keypair(lab_json, h) for h in HOSPITALS}
            mesh_id = f"hospitals-{uuid.uuid4().hex[:8]}"
            if options.transport == "mqtt":
                network: TcpBasePorts | MqttBroker = MqttBroker(
                    options.mqtt_host, options.mqtt_port
                )
            else:
                from integrations.mpyc._runner import _free_port

                network = TcpBasePorts(
                    {h: ("127.0.0.1", _free_port("127.0.0.1")) for h in HOSPITALS}
                )

            def channel_config(me: str) -> Callable[[str], ChannelConfig]:
                kme_keys = KmeKeyProvider(clients[me], sae_ids=sae_ids)

                def config(peer: str) -> ChannelConfig:
                    # One wrapper per channel attempt: its first key is that handshake's.
                    provider = CountingKeyProvider(
                        kme_keys, "channels", counts[me], first_key_as="handshakes"
                    )
                    return ChannelConfig(
                        local_id=me,
                        peer_id=peer,
                        static_private_key=statics[me][0],
                        peer_static_public_key=statics[peer][1],
                        key_provider=provider,
                        handshake_timeout=30.0,
                        rekey_bytes=REKEY_BYTES,
                    )

                return config

            meshes: dict[str, Mesh] = {}
            with clock.phase("mesh"):
                for h in HOSPITALS:
                    transport = ChannelMeshTransport(
                        h, HOSPITALS, channel_config(h), network, mesh_id=mesh_id
                    )
                    seeds = CountingKeyProvider(
                        KmeKeyProvider(clients[h], sae_ids=sae_ids), "seeds", counts[h]
                    )
                    meshes[h] = Mesh(
                        MeshConfig(
                            h, HOSPITALS, mesh_id=mesh_id, connect_timeout=60, recv_timeout=120
                        ),
                        transport,
                        keys=seeds,
                        tag_prefixes=MESH_TAGS,
                    )
                await start_meshes(list(meshes.values()), stack)
                clock.say(f"quantum-keyed channels up over {options.transport} between all pairs")

            results: dict[str, Any] = {}
            with clock.phase("secure aggregation"):
                cfg = TrainingConfig(rounds=options.rounds)

                async def train(h: str) -> Any:
                    przs = await meshes[h].przs("training")
                    part = data.partitions[h]
                    return await train_jointly(meshes[h], przs, part.X, part.y, cfg)

                trained = await asyncio.gather(*(train(h) for h in HOSPITALS))
                scaler, w = trained[0]
                same_model = all(np.array_equal(t[1], w) for t in trained)
                X_all = np.vstack([p.X for p in data.partitions.values()])
                y_all = np.concatenate([p.y for p in data.partitions.values()])
                c_scaler, c_w = fit_centralised(X_all, y_all, cfg)
                joint_acc = float((predict(w, scaler.transform(data.X_test)) == data.y_test).mean())
                central_acc = float(
                    (predict(c_w, c_scaler.transform(data.X_test)) == data.y_test).mean()
                )
                results["secure_aggregation"] = {
                    "rounds": cfg.rounds,
                    "records_per_hospital": {h: len(p.y) for h, p in data.partitions.items()},
                    "test_records": len(data.y_test),
                    "joint_accuracy": round(joint_acc, 4),
                    "centralised_accuracy": round(central_acc, 4),
                    "difference_pp": round(abs(joint_acc - central_acc) * 100, 2),
                    "max_weight_difference": float(np.max(np.abs(w - c_w))),
                    "all_hospitals_same_model": same_model,
                    "ok": same_model and abs(joint_acc - central_acc) <= 0.01,
                }
                clock.say(f"joint accuracy {joint_acc:.4f}, centralised {central_acc:.4f}")

            with clock.phase("private diagnosis"):
                patients = scaler.transform(data.X_test[: options.patients])
                plain = patients @ w[:-1] + w[-1]
                (scores, context_bytes), served = await asyncio.gather(
                    diagnosis_client(meshes[CLIENT], SERVER, patients),
                    diagnosis_server(meshes[SERVER], CLIENT, w),
                )
                diff = float(np.max(np.abs(scores - plain)))
                results["private_diagnosis"] = {
                    "client": CLIENT,
                    "server": SERVER,
                    "patients": served,
                    "max_abs_score_difference": diff,
                    "public_context_bytes": context_bytes,
                    "diagnoses": [
                        "malignant" if s < 0 else "benign" for s in scores
                    ],  # sklearn's target 1 = benign
                    "ok": diff <= 1e-3 and served == len(patients),
                }
                clock.say(f"{served} encrypted diagnoses, max |HE - plain| = {diff:.2e}")

            with clock.phase("mpyc secure mean"):

                async def mpyc_party(h: str) -> str:
                    part = data.partitions[h].X[:, FEATURE]
                    program = [
                        "-m",
                        "integrations.mpyc.secure_mean",
                        "--sum",
                        repr(float(part.sum())),
                        "--count",
                        str(len(part)),
                    ]
                    return await run_mpyc_party(meshes[h], program, time_limit=120)

                outputs = await asyncio.gather(*(mpyc_party(h) for h in HOSPITALS))
                means = [
                    float(line.split()[1])
                    for out in outputs
                    for line in out.splitlines()
                    if line.startswith("MEAN ")
                ]
                expected = float(X_all[:, FEATURE].mean())
                results["mpyc_secure_mean"] = {
                    "feature": data.feature_names[FEATURE],
                    "mpyc_mean": means[0] if means else None,
                    "plaintext_mean": expected,
                    "ok": len(means) == 3 and all(abs(m - expected) < 1e-4 for m in means),
                }
                clock.say(f"MPyC mean {means[0] if means else None} (plaintext {expected:.6f})")

            report["results"] = results
            report["traffic"] = _traffic(meshes)
            delivered = {h: lab.delivered_keys(h).to_json() for h in HOSPITALS}
            report["keys"] = _keys(meshes, counts, delivered)
            report["links"] = _link_physics(lab, source)
            clock.say("link figures read from both KMEs of every link")
    report["phases_s"] = clock.phases
    report["total_s"] = round(time.monotonic() - clock.start, 3)
    report["ok"] = all(r["ok"] for r in results.values())
    return report


def _traffic(meshes: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for i, a in enumerate(HOSPITALS):
        for b in HOSPITALS[i + 1 :]:
            stats = meshes[a].stats()[b]
            out.append(
                {
                    "link": f"{a}--{b}",
                    "bytes_a_to_b": stats.bytes_sent,
                    "bytes_b_to_a": stats.bytes_received,
                    "messages": stats.messages_sent + stats.messages_received,
                }
            )
    return out


def _keys(
    meshes: dict[str, Any], counts: dict[str, Counter[str]], delivered: dict[str, dict[str, int]]
) -> dict[str, Any]:
    """Keys as each KME counted its deliveries, as each hospital's SAE counted what it fetched,
    and what they were consumed for."""
    fetched = {
        h: {
            "enc_keys": c["channels/enc_keys"] + c["seeds/enc_keys"],
            "dec_keys": c["channels/dec_keys"] + c["seeds/dec_keys"],
        }
        for h, c in counts.items()
    }
    # Keys the initiators fetched for handshakes (each also fetched once by its responder); every
    # later key a channel fetched was a rekey's (the mesh sends no one-time-pad records).
    handshakes = sum(c["handshakes/enc_keys"] for c in counts.values())
    rekeys = sum(c["channels/enc_keys"] - c["handshakes/enc_keys"] for c in counts.values())
    # The rekeys the channels completed, by their own count (at the initiator of each pair).
    completed = 0
    for i, a in enumerate(HOSPITALS):
        for b in HOSPITALS[i + 1 :]:
            link_stats = meshes[a].stats()[b].link_stats
            completed += int(getattr(link_stats, "rekeys", 0))
    seeds: Counter[str] = Counter()
    for h, mesh in meshes.items():
        for record in mesh.ledger.records:
            if h < record.peer:  # count each key once: at its master (the lower id)
                seeds[record.purpose] += 1
    return {
        "delivered_by_kme": delivered,
        "fetched_by_sae": fetched,
        "consumed_by_purpose": {
            "handshakes": handshakes,
            "rekeys": rekeys,
            "seeds": dict(seeds),
        },
        "rekeys_completed_by_channels": completed,
    }
