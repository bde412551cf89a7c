"""`ChannelConfig`: everything one end of a channel needs, frozen and validated when built."""

from __future__ import annotations

import math
import ssl
from dataclasses import dataclass, field

from protocols.channel import Cipher, HandshakeConfig, HandshakeMode, RecordConfig
from qkdlink.errors import ConfigurationError
from qkdlink.keyprovider import KeyProvider

__all__ = ["ChannelConfig", "TcpEndpoint"]


@dataclass(frozen=True, slots=True)
class TcpEndpoint:
    """Where to connect or listen over TCP (port 0 when listening picks a free port)."""

    host: str
    port: int
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    """Optional outer TLS (the channel is end-to-end encrypted either way)."""


@dataclass(frozen=True, slots=True, eq=False)
class ChannelConfig:
    """One end of a channel between two configured nodes.

    The initiator (the side calling `connect`) is the master SAE: it fetches QKD keys with
    ``enc_keys`` for the handshake and every rekey; the responder fetches them by ID.

    Equality and hashing are by identity (``eq=False``, like `HandshakeConfig`): a generated
    ``__eq__``/``__hash__`` would compare and hash the static private key, not in constant time.
    """

    local_id: str
    """This node's ID (bound into the handshake; the KME key provider's peer names)."""
    peer_id: str
    """The peer node's ID."""
    static_private_key: bytes = field(repr=False, compare=False)
    """This node's X25519 static private key (32 bytes)."""
    peer_static_public_key: bytes
    """The peer's X25519 static public key (32 bytes), from the lab configuration."""
    key_provider: KeyProvider = field(compare=False)
    """Source of QKD keys (`KmeKeyProvider` in a lab, `InMemoryKeyPool` in tests)."""
    mode: str = "qkd+x25519+mlkem"
    """Hybrid mode: ``qkd+x25519+mlkem`` (default) or ``qkd+x25519``; both ends alike."""
    cipher: Cipher = "AESGCM"
    """Record AEAD: AES-256-GCM (hardware AES) or ChaChaPoly."""
    rekey_interval: float = 120.0
    """Seconds between QKD rekeys (WireGuard's Rekey-After-Time)."""
    reject_after: float = 180.0
    """Seconds after which a key is never used again, rekeyed or not."""
    rekey_timeout: float = 30.0
    """Seconds the initiator waits for the peer to acknowledge a rekey."""
    rekey_bytes: int = 1 << 34
    """Payload bytes in one direction before a rekey (hard limit: twice that)."""
    rekey_messages: int = 1 << 24
    """Records in one direction before a rekey (hard limit: twice that)."""
    record_size: int = 65536
    """Largest plaintext per record."""
    max_message_size: int = 64 << 20
    """Largest `send`/`recv` message (fragmented transparently)."""
    max_array_size: int = 4 << 30
    """Largest `send_array`/`recv_array` buffer."""
    replay_window: int | None = None
    """None: strict record order (TCP, MQTT transport). Else an RFC 6479 window size."""
    handshake_timeout: float = 10.0
    """Seconds for the whole handshake, KME fetches included."""
    max_clock_skew: float = 120.0
    """Seconds a handshake timestamp may differ from the responder's clock."""
    receive_buffer: int = 32 << 20
    """Bytes of received, unread messages before the channel stops reading (backpressure)."""
    _handshake: HandshakeConfig = field(init=False, repr=False, compare=False)
    _record: RecordConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            mode = HandshakeMode(self.mode)
        except ValueError:
            raise ConfigurationError(f"unknown channel mode {self.mode!r}") from None
        if not isinstance(self.key_provider, KeyProvider):
            raise ConfigurationError("key_provider must implement new_key and key_by_id")
        for name in ("handshake_timeout", "receive_buffer"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be positive")
        try:
            handshake = HandshakeConfig(
                local_id=self.local_id,
                peer_id=self.peer_id,
                static_private_key=self.static_private_key,
                peer_static_public_key=self.peer_static_public_key,
                mode=mode,
                max_clock_skew=self.max_clock_skew,
            )
            record = RecordConfig(
                cipher=self.cipher,
                max_record_payload=self.record_size,
                max_message_size=self.max_message_size,
                max_array_size=self.max_array_size,
                replay_window=self.replay_window,
                rekey_after_time=self.rekey_interval,
                reject_after_time=self.reject_after,
                rekey_timeout=self.rekey_timeout,
                rekey_after_bytes=self.rekey_bytes,
                reject_after_bytes=2 * self.rekey_bytes,
                rekey_after_records=self.rekey_messages,
                reject_after_records=2 * self.rekey_messages,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        object.__setattr__(self, "_handshake", handshake)
        object.__setattr__(self, "_record", record)

    @property
    def handshake_config(self) -> HandshakeConfig:
        return self._handshake

    @property
    def record_config(self) -> RecordConfig:
        return self._record
