"""MQTT transport specifics: TLS to the broker, configuration checks, foreign frames ignored."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qkdlink.errors import ConfigurationError, TransportError
from qkdlink.transport import MqttTransport, MqttTransportConfig
from tests.qkdlink.transport._broker import Broker


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test broker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "broker.pem", directory / "broker-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.network
async def test_tls_to_the_broker(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    broker = Broker(tmp_path, tls=(cert, key))
    broker.start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
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
