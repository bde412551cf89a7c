"""Channel test helpers: paired configs over one in-memory QKD link, opened over any transport."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qkdlink.channel import Channel, ChannelConfig, connect, serve
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider
from qkdlink.transport import Transport, memory_transport_pair


def x25519_keypair() -> tuple[bytes, bytes]:
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


NODES = ("hospital-a", "hospital-b")
"""The initiator and the responder of `config_pair`."""


def config_pair(
    link: InMemoryKeyPool | None = None,
    *,
    a_provider: KeyProvider | None = None,
    b_provider: KeyProvider | None = None,
    **overrides: Any,
) -> tuple[ChannelConfig, ChannelConfig]:
    """Configs for nodes "hospital-a" (initiator) and "hospital-b" (responder)."""
    link = link or InMemoryKeyPool()
    a_priv, a_pub = x25519_keypair()
    b_priv, b_pub = x25519_keypair()
    a = ChannelConfig(
        local_id="hospital-a",
        peer_id="hospital-b",
        static_private_key=a_priv,
        peer_static_public_key=b_pub,
        key_provider=a_provider or link.provider("hospital-a"),
        **overrides,
    )
    b = ChannelConfig(
        local_id="hospital-b",
        peer_id="hospital-a",
        static_private_key=b_priv,
        peer_static_public_key=a_pub,
        key_provider=b_provider or link.provider("hospital-b"),
        **overrides,
    )
    return a, b


async def open_pair(
    a_config: ChannelConfig,
    b_config: ChannelConfig,
    transports: tuple[Transport, Transport] | None = None,
) -> tuple[Channel, Channel]:
    ta, tb = transports or memory_transport_pair()
    async with asyncio.timeout(20):
        return await asyncio.gather(connect(a_config, ta), serve(b_config, tb))


def with_provider(config: ChannelConfig, provider: KeyProvider) -> ChannelConfig:
    return replace(config, key_provider=provider)
