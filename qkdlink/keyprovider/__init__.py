"""Where an application's QKD keys come from: the `KeyProvider` protocol and its implementations.

One node (an ETSI GS QKD 014 SAE) asks for a fresh key shared with a peer and sends only its ID;
the peer fetches the same key by that ID. Channels (handshake keys) and correlated randomness
(seeds) both take a `KeyProvider`. `KmeKeyProvider` adapts an open `qkdlink.client.KmeClient`;
`InMemoryKeyPool` serves tests and single-process demos.
"""

from qkdlink.keyprovider._base import KeyProvider
from qkdlink.keyprovider._kme import KmeKeyProvider
from qkdlink.keyprovider._memory import InMemoryKeyPool

__all__ = ["InMemoryKeyPool", "KeyProvider", "KmeKeyProvider"]
