"""Helpers for mesh tests: free ports and channel configs keyed by an in-memory QKD link."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from qkdlink.channel import ChannelConfig, InMemoryQkdLink


def free_ports(n: int, *, spacing: int = 1) -> list[int]:
    """`n` ports free now (each followed by `spacing - 1` more that are probably free too)."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if all(abs(port - p) >= spacing for p in ports) and port + spacing < 65535:
            ports.append(port)
    return ports


def channel_configs(
    parties: Sequence[str], qkd: InMemoryQkdLink, *, mode: str = "qkd+x25519"
) -> dict[str, Callable[[str], ChannelConfig]]:
    """Per party: peer -> its ChannelConfig (static keys made here, QKD keys from `qkd`)."""
    private = {p: X25519PrivateKey.generate() for p in parties}
    public = {p: k.public_key().public_bytes_raw() for p, k in private.items()}

    def factory(me: str) -> Callable[[str], ChannelConfig]:
        def config(peer: str) -> ChannelConfig:
            return ChannelConfig(
                local_id=me,
                peer_id=peer,
                static_private_key=private[me].private_bytes_raw(),
                peer_static_public_key=public[peer],
                key_provider=qkd.provider(me),
                mode=mode,
            )

        return config

    return {p: factory(p) for p in parties}
