"""The KME (Key Management Entity): ETSI GS QKD 014 key delivery over mutual TLS, with
KME-to-KME synchronisation per QKD link (docs/kme.md)."""

from qkdlink.kme._config import (
    KeySourceConfig,
    KmeConfig,
    LimitsConfig,
    ListenConfig,
    PeerConfig,
    TlsConfig,
    config_from_mapping,
    load_config,
)
from qkdlink.kme._delivered import DeliveredKeys
from qkdlink.kme._server import KmeServer
from qkdlink.kme._service import own_partition
from qkdlink.kme._sources import BB84_PLUGIN, make_key_source

__all__ = [
    "BB84_PLUGIN",
    "DeliveredKeys",
    "KeySourceConfig",
    "KmeConfig",
    "KmeServer",
    "LimitsConfig",
    "ListenConfig",
    "PeerConfig",
    "TlsConfig",
    "config_from_mapping",
    "load_config",
    "make_key_source",
    "own_partition",
]
