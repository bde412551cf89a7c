"""QKD-keyed secure channels (asyncio): `connect`, `serve`, `Channel`, config and key providers.

See docs/channel.md for the design, the wire format and the security argument. The key providers
live in `qkdlink.keyprovider`; `KmeKeyProvider` is re-exported here, and `QkdKeyProvider` and
`InMemoryQkdLink` are kept as aliases of `KeyProvider` and `InMemoryKeyPool`.
"""

from qkdlink.channel._channel import Channel, ChannelStats
from qkdlink.channel._config import ChannelConfig, TcpEndpoint
from qkdlink.channel._lab import lab_channel_config, lab_sae_ids, lab_static_keypair
from qkdlink.channel._open import ChannelOpener, TransportSpec, connect, serve
from qkdlink.keyprovider import InMemoryKeyPool as InMemoryQkdLink  # alias (see docs/channel.md)
from qkdlink.keyprovider import KeyProvider as QkdKeyProvider  # alias (see docs/channel.md)
from qkdlink.keyprovider import KmeKeyProvider

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
