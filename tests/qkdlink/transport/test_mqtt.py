"""MQTT transport specifics: TLS to the broker, configuration checks, foreign frames ignored."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiomqtt
import pytest

from qkdlink.errors import ConfigurationError, TransportError
from qkdlink.pki import LabCA
from qkdlink.transport import MqttTransport, MqttTransportConfig
from tests.qkdlink.transport._broker import Broker


def _broker_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A lab CA and a broker certificate for 127.0.0.1: (ca, cert, key)."""
    ca = LabCA.create(directory)
    paths = ca.issue_kme_cert("KME_broker", directory, hosts=("127.0.0.1",))
    return ca.cert_path, paths.cert, paths.key


@pytest.mark.network
async def test_tls_to_the_broker(tmp_path: Path) -> None:
    ca_cert, cert, key = _broker_cert(tmp_path)
    broker = Broker(tmp_path, tls=(cert, key))
    broker.start()
    try:
        context = ssl.create_default_context(cafile=str(ca_cert))
        ca = MqttTransportConfig(local_id="a", peer_id="b", port=broker.port, tls_context=context)
        cb = MqttTransportConfig(local_id="b", peer_id="a", port=broker.port, tls_context=context)
        async with MqttTransport(ca) as a, MqttTransport(cb) as b:
            await a.send(b"over tls")
            assert await asyncio.wait_for(b.receive(), 10) == b"over tls"
        # Without trusting the broker's certificate, the connection is refused.
        plain = MqttTransportConfig(
            local_id="a",
            peer_id="b",
            port=broker.port,
            tls_context=ssl.create_default_context(),
            connect_timeout=2.0,
        )
        with pytest.raises(TransportError):
            async with MqttTransport(plain):
                pass
    finally:
        broker.stop()


@pytest.mark.parametrize(
    ("local", "peer"), [("a/b", "c"), ("a", "#"), ("a", "+"), ("", "b"), ("same", "same")]
)
def test_node_ids_must_be_single_distinct_topic_levels(local: str, peer: str) -> None:
    with pytest.raises(ConfigurationError):
        MqttTransportConfig(local_id=local, peer_id=peer)


def test_topic_layout() -> None:
    config = MqttTransportConfig(local_id="hospital-a", peer_id="hospital-b")
    assert config.publish_topic == "qkdlink/v1/hospital-a/hospital-b"
    assert config.subscribe_topic == "qkdlink/v1/hospital-b/hospital-a"


@pytest.mark.network
async def test_junk_and_foreign_frames_on_the_topic_are_ignored(broker: Broker) -> None:
    ca = MqttTransportConfig(local_id="a", peer_id="b", port=broker.port)
    cb = MqttTransportConfig(local_id="b", peer_id="a", port=broker.port)
    async with MqttTransport(ca) as a, MqttTransport(cb) as b:
        await a.send(b"first")
        assert await asyncio.wait_for(b.receive(), 10) == b"first"
        async with aiomqtt.Client("127.0.0.1", broker.port) as intruder:
            await intruder.publish(ca.publish_topic, b"short", qos=1)
            forged = bytes([0]) + bytes(8) + (2).to_bytes(8, "big") + bytes(8) + b"forged"
            await intruder.publish(ca.publish_topic, forged, qos=1)
        await a.send(b"second")
        assert await asyncio.wait_for(b.receive(), 10) == b"second"
