"""qkdlink: QKD-keyed key delivery (ETSI GS QKD 014) and secure channels for MPC and HE.

Importing qkdlink does nothing but define names (no global runtime, no argv parsing).
"""

from typing import TYPE_CHECKING

from qkdlink import errors
from qkdlink.errors import QkdlinkError
from qkdlink.keysource import FileKeySource, KeyBlock, KeySource, TestKeySource

if TYPE_CHECKING:
    from qkdlink.channel import Channel, ChannelConfig, connect, serve
    from qkdlink.client import KmeClient, KmeClientConfig, SyncKmeClient

# The SAE client pulls in aiohttp and the channel numpy and aiomqtt; they are loaded on first use
# so `import qkdlink` (and the CLI's --help) stays light.
_LAZY = {
    "KmeClient": "qkdlink.client",
    "KmeClientConfig": "qkdlink.client",
    "SyncKmeClient": "qkdlink.client",
    "Channel": "qkdlink.channel",
    "ChannelConfig": "qkdlink.channel",
    "connect": "qkdlink.channel",
    "serve": "qkdlink.channel",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qkdlink' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Channel",
    "ChannelConfig",
    "FileKeySource",
    "KeyBlock",
    "KeySource",
    "KmeClient",
    "KmeClientConfig",
    "QkdlinkError",
    "SyncKmeClient",
    "TestKeySource",
    "__version__",
    "connect",
    "errors",
    "serve",
]
