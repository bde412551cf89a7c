"""qkdlink: QKD-keyed key delivery (ETSI GS QKD 014) and secure channels for MPC and HE.

Importing qkdlink does nothing but define names (no global runtime, no argv parsing).
"""

from typing import TYPE_CHECKING

from qkdlink import errors
from qkdlink.errors import QkdlinkError
from qkdlink.keysource import FileKeySource, KeyBlock, KeySource, TestKeySource

if TYPE_CHECKING:
    from qkdlink.client import KmeClient, KmeClientConfig, SyncKmeClient

# The SAE client pulls in aiohttp; it is loaded on first use so `import qkdlink` (and the CLI's
# --help) stays light.
_LAZY = {"KmeClient", "KmeClientConfig", "SyncKmeClient"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import qkdlink.client

        return getattr(qkdlink.client, name)
    raise AttributeError(f"module 'qkdlink' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "FileKeySource",
    "KeyBlock",
    "KeySource",
    "KmeClient",
    "KmeClientConfig",
    "QkdlinkError",
    "SyncKmeClient",
    "TestKeySource",
    "__version__",
    "errors",
]
