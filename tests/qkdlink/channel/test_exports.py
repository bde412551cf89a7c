"""The public surface of the channel packages is pinned (trio's test_exports idea)."""

from __future__ import annotations

import subprocess
import sys

import protocols.channel
import qkdlink
import qkdlink.channel
import qkdlink.transport

CHANNEL = {
    "Channel",
    "ChannelConfig",
    "ChannelOpener",
    "ChannelStats",
    "InMemoryQkdLink",
    "KmeKeyProvider",
    "QkdKeyProvider",
    "TcpEndpoint",
    "TransportSpec",
    "connect",
    "lab_channel_config",
    "lab_sae_ids",
    "lab_static_keypair",
    "serve",
}
TRANSPORT = {
    "MemoryTransport",
    "MqttTransport",
    "MqttTransportConfig",
    "TcpListener",
    "TcpTransport",
    "Transport",
    "memory_transport_pair",
    "tcp_connect",
    "tcp_listen",
}
RECORD_LAYER = {
    "MAX_EPOCH",
    "Cipher",
    "EpochExhaustedError",
    "EpochKeys",
    "KeyLifetimeError",
    "RecordConfig",
    "RecordLayer",
    "RecordState",
    "RecordStats",
    "RecordType",
    "ReplayWindow",
    "StrictOrder",
    "initial_epoch_keys",
    "next_epoch_keys",
    "otp_open",
    "otp_pad_size",
    "otp_seal",
}


def test_package_exports() -> None:
    assert set(qkdlink.channel.__all__) == CHANNEL
    assert set(qkdlink.transport.__all__) == TRANSPORT
    assert set(protocols.channel.__all__) >= RECORD_LAYER
    for module, names in (
        (qkdlink.channel, CHANNEL),
        (qkdlink.transport, TRANSPORT),
        (protocols.channel, RECORD_LAYER),
    ):
        for name in names:
            assert getattr(module, name) is not None


def test_top_level_names_resolve_lazily() -> None:
    assert qkdlink.connect is qkdlink.channel.connect
    assert qkdlink.serve is qkdlink.channel.serve
    assert qkdlink.Channel is qkdlink.channel.Channel
    assert qkdlink.ChannelConfig is qkdlink.channel.ChannelConfig
    code = "import sys, qkdlink; print('aiomqtt' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
