"""qkdlink: QKD-keyed key delivery (ETSI GS QKD 014) and secure channels for MPC and HE.

Importing qkdlink does nothing but define names (no global runtime, no argv parsing).
"""

from qkdlink import errors
from qkdlink.errors import QkdlinkError
from qkdlink.keysource import FileKeySource, KeyBlock, KeySource, TestKeySource

__version__ = "0.1.0"

__all__ = [
    "FileKeySource",
    "KeyBlock",
    "KeySource",
    "QkdlinkError",
    "TestKeySource",
    "__version__",
    "errors",
]
