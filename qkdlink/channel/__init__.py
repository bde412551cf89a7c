"""QKD-keyed secure channels (asyncio): `connect`, `serve`, `Channel`, config and key providers.

See docs/channel.md for the design, the wire format and the security argument.
"""

from qkdlink.channel._channel import Channel, ChannelStats
from qkdlink.channel._config import ChannelConfig, TcpEndpoint
from qkdlink.channel._keys import InMemoryQkdLink, KmeKeyProvider, QkdKeyProvider
from qkdlink.channel._lab import lab_channel_config, lab_sae_ids, lab_static_keypair
from qkdlink.channel._open import ChannelOpener, TransportSpec, connect, serve

__all__ = [
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
]
