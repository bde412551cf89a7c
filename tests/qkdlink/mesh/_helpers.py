"""Helpers for mesh tests: free ports and channel configs keyed by an in-memory QKD link."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from qkdlink.channel import ChannelConfig
from qkdlink.keyprovider import InMemoryKeyPool


def free_ports(n: int, *, spacing: int = 1) -> list[int]:
    """`n` base ports, each with the `spacing - 1` ports above it, all bindable right now.

    Ports are drawn below the kernel's ephemeral range (32768-60999 on Linux), so that outgoing
    connections of other tests cannot take a port of a span between this check and the bind.
    """
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        base = rng.randrange(20000, 32000 - spacing)
        span = range(base, base + spacing)
        if any(abs(base - p) < spacing for p in ports) or not all(_bindable(q) for q in span):
            continue
        ports.append(base)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def channel_configs(
    parties: Sequence[str], qkd: InMemoryKeyPool, *, mode: str = "qkd+x25519"
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
