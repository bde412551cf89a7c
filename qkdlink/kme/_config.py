"""KME configuration: frozen dataclasses validated when built, loaded from TOML (docs/kme.md)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qkdlink.errors import ConfigurationError
from qkdlink.keystore._config import PostgresStoreConfig, SqliteStoreConfig, StoreConfig
from qkdlink.pki import validate_id

__all__ = [
    "KeySourceConfig",
    "KmeConfig",
    "LimitsConfig",
    "ListenConfig",
    "PeerConfig",
    "TlsConfig",
    "load_config",
]


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """Where the HTTPS server listens (loopback in labs)."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port (the bound port is reported by the running server)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"listen port out of range: {self.port}")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """The KME's certificate (server auth to SAEs, client auth to peer KMEs) and the lab CA."""

    cert: Path
    key: Path
    ca: Path
    """The CA that SAE and peer KME certificates must chain to."""


@dataclass(frozen=True, slots=True)
class KeySourceConfig:
    """Where a link's raw key comes from: `test`, `file`, or a plugin "module:callable"."""

    kind: str
    """"test", "file" or "plugin"."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of the source (e.g. seed, block_bytes, path, distance_km)."""
    factory: str | None = None
    """For kind = "plugin": "package.module:callable(link_id, **params) -> KeySource"."""

    def __post_init__(self) -> None:
        if self.kind not in ("test", "file", "plugin"):
            raise ConfigurationError(f"unknown key source kind {self.kind!r}")
        if self.kind == "plugin" and (not self.factory or ":" not in self.factory):
            raise ConfigurationError('a plugin key source needs factory = "module:callable"')
        if self.kind == "file" and "path" not in self.params:
            raise ConfigurationError("a file key source needs a path")


@dataclass(frozen=True, slots=True)
class PeerConfig:
    """The KME at the other end of one QKD link, and the SAEs attached to it."""

    kme_id: str
    url: str
    """Base URL of the peer KME, e.g. "https://127.0.0.1:8444"."""
    sae_ids: tuple[str, ...]
    link_id: str
    """The link's name, the same in both KMEs' configs."""
    key_source: KeySourceConfig

    def __post_init__(self) -> None:
        validate_id(self.kme_id, "peer kme_id")
        validate_id(self.link_id, "link_id")
        for sae in self.sae_ids:
            validate_id(sae, "peer SAE ID")
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigurationError(f"peer url must be https://host:port: {self.url!r}")


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Status values (ETSI GS QKD 014 Table 9) and the server's resource caps."""

    key_size: int = 256
    min_key_size: int = 64
    max_key_size: int = 8192
    max_key_per_request: int = 1024
    max_key_count: int = 100_000
    """Pool capacity per link in keys of `key_size`; ingestion pauses above it."""
    max_SAE_ID_count: int = 8  # noqa: N815 -- the spec's field name
    max_body_bytes: int = 1 << 20
    """Request bodies above this get 400 (a Key IDs body for 1024 keys is about 64 KiB)."""
    max_concurrent_requests: int = 512
    """Requests handled at once; more get 503 at once rather than queueing without bound."""
    peer_timeout_s: float = 10.0
    """How long the master KME waits for its peer to confirm an assignment."""
    ingest_wait_s: float = 5.0
    """How long the slave KME waits for ingestion to reach an assigned range."""
    dec_keys_wait_s: float = 0.0
    """How long dec_keys waits for a key ID this KME has not heard of (0: answer 400 at once)."""

    def __post_init__(self) -> None:
        for name in ("key_size", "min_key_size", "max_key_size"):
            value = getattr(self, name)
            if value <= 0 or value % 8:
                raise ConfigurationError(f"{name} must be a positive multiple of 8")
        if not self.min_key_size <= self.key_size <= self.max_key_size:
            raise ConfigurationError("need min_key_size <= key_size <= max_key_size")
        if self.max_key_per_request < 1 or self.max_key_count < self.max_key_per_request:
            raise ConfigurationError("need 1 <= max_key_per_request <= max_key_count")
        if self.max_SAE_ID_count < 0:
            raise ConfigurationError("max_SAE_ID_count must be >= 0")
        if self.max_body_bytes < 1024 or self.max_concurrent_requests < 1:
            raise ConfigurationError("max_body_bytes >= 1024 and max_concurrent_requests >= 1")
        if min(self.peer_timeout_s, self.ingest_wait_s) <= 0 or self.dec_keys_wait_s < 0:
            raise ConfigurationError("timeouts must be positive (dec_keys_wait_s >= 0)")


@dataclass(frozen=True, slots=True)
class KmeConfig:
    """Everything one KME needs; one instance per process, passed to `KmeServer`."""

    kme_id: str
    sae_ids: tuple[str, ...]
    """The SAEs attached to this KME (they may call enc_keys as master and dec_keys as slave)."""
    tls: TlsConfig
    store: StoreConfig
    peers: tuple[PeerConfig, ...] = ()
    listen: ListenConfig = field(default_factory=ListenConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)

    def __post_init__(self) -> None:
        validate_id(self.kme_id, "kme_id")
        for sae in self.sae_ids:
            validate_id(sae, "SAE ID")
        seen: dict[str, str] = {sae: self.kme_id for sae in self.sae_ids}
        links: set[str] = set()
        for peer in self.peers:
            if peer.kme_id == self.kme_id:
                raise ConfigurationError("a KME cannot peer with itself")
            if peer.link_id in links:
                raise ConfigurationError(f"link {peer.link_id!r} configured twice")
            links.add(peer.link_id)
            for sae in peer.sae_ids:
                if sae in seen:
                    raise ConfigurationError(f"SAE {sae!r} attached to two KMEs")
                seen[sae] = peer.kme_id
        if len({p.kme_id for p in self.peers}) != len(self.peers):
            raise ConfigurationError("one link per peer KME")

    def peer_of_sae(self, sae_id: str) -> PeerConfig | None:
        """The peer KME a remote SAE is attached to, or None."""
        for peer in self.peers:
            if sae_id in peer.sae_ids:
                return peer
        return None

    def peer_by_kme_id(self, kme_id: str) -> PeerConfig | None:
        """The peer with this KME ID, or None."""
        for peer in self.peers:
            if peer.kme_id == kme_id:
                return peer
        return None


def _path(base: Path, value: object, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a path string")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"[{key}] must be a table")
    return value


def _str_list(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{what} must be a list of strings")
    return tuple(value)


def _store_config(base: Path, store: Mapping[str, Any]) -> StoreConfig:
    options = dict(store)
    kind = options.pop("kind", "sqlite")
    key_file = _path(base, options.pop("master_key_file", None), "store.master_key_file")
    if kind == "sqlite":
        path = _path(base, options.pop("path", None), "store.path")
        return SqliteStoreConfig(path=path, master_key_file=key_file, **options)
    if kind == "postgres":
        return PostgresStoreConfig(master_key_file=key_file, **options)
    raise ConfigurationError(f"unknown store kind {kind!r}")


def config_from_mapping(data: Mapping[str, Any], base: Path) -> KmeConfig:
    """Build a `KmeConfig` from parsed TOML; relative paths are relative to `base`.

    Raises:
        ConfigurationError: a value is missing, ill-typed or out of range.
    """
    try:
        tls = _table(data, "tls")
        store = _table(data, "store")
        peers = []
        for raw in data.get("peers", []):
            source = dict(raw["key_source"])
            kind = source.pop("kind")
            factory = source.pop("factory", None)
            params = dict(source.pop("params", {}))
            params.update(source)
            if kind == "file":
                params["path"] = str(_path(base, params.get("path"), "key_source.path"))
            peers.append(
                PeerConfig(
                    kme_id=raw["kme_id"],
                    url=raw["url"],
                    sae_ids=_str_list(raw["sae_ids"], "peers.sae_ids"),
                    link_id=raw["link_id"],
                    key_source=KeySourceConfig(kind=kind, params=params, factory=factory),
                )
            )
        return KmeConfig(
            kme_id=data["kme_id"],
            sae_ids=_str_list(data["sae_ids"], "sae_ids"),
            listen=ListenConfig(**_table(data, "listen")),
            tls=TlsConfig(
                cert=_path(base, tls.get("cert"), "tls.cert"),
                key=_path(base, tls.get("key"), "tls.key"),
                ca=_path(base, tls.get("ca"), "tls.ca"),
            ),
            store=_store_config(base, store),
            peers=tuple(peers),
            limits=LimitsConfig(**_table(data, "limits")),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(f"invalid KME config: {exc!r}") from exc


def load_config(path: Path | str) -> KmeConfig:
    """Read a KME config TOML file (format in docs/kme.md).

    Raises:
        ConfigurationError: unreadable file, bad TOML, or an invalid value.
    """
    path = Path(path).absolute()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read KME config {path}: {exc}") from exc
    return config_from_mapping(data, path.parent)
