"""qkdlink's exception hierarchy: one root, one subclass per failure a caller acts on differently.

Protocol-level errors are defined in `protocols.errors` (the innermost layer) and re-exported
here; runtime errors (key delivery, storage, channels, transports, mesh) are defined here.
No message or attribute ever carries key material.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from protocols.errors import (
    AuthenticationError,
    LocalProtocolError,
    PostProcessingAbortedError,
    ProtocolError,
    QkdlinkError,
    RemoteProtocolError,
)

__all__ = [
    "AuthenticationError",
    "BrokenChannelError",
    "BusyError",
    "ChannelClosedError",
    "ChannelError",
    "ConfigurationError",
    "EndOfChannelError",
    "HandshakeError",
    "KeyDeliveryError",
    "KeyExhaustedError",
    "KeyIdError",
    "KeyNotEntitledError",
    "KeySourceError",
    "KeyStoreError",
    "KmeBadRequestError",
    "KmeResponseError",
    "KmeUnauthorizedError",
    "KmeUnavailableError",
    "LocalProtocolError",
    "MeshError",
    "PartyDisconnectedError",
    "PeerKmeError",
    "PostProcessingAbortedError",
    "ProtocolError",
    "QkdlinkError",
    "RekeyError",
    "RemoteProtocolError",
    "TransportError",
    "UnexpectedMessageError",
    "UnknownTagError",
]


class ConfigurationError(QkdlinkError, ValueError):
    """A configuration value is invalid; raised when the frozen config dataclass is built."""


# --- key delivery (ETSI GS QKD 014) -------------------------------------------------------------


class KeyDeliveryError(QkdlinkError):
    """A KME did not deliver the keys asked for."""


class KmeBadRequestError(KeyDeliveryError):
    """The KME answered 400: the request broke a rule of ETSI GS QKD 014 (message from the KME)."""

    def __init__(self, message: str, details: tuple[Mapping[str, object], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class KmeUnauthorizedError(KeyDeliveryError):
    """The KME answered 401: this SAE is not entitled to what it asked for. Do not retry."""


class KmeUnavailableError(KeyDeliveryError):
    """The KME answered 503 or could not be reached after bounded retries. Retry later."""


class KmeResponseError(KeyDeliveryError):
    """The KME answered something ETSI GS QKD 014 does not allow (bad body, wrong KME ID)."""


class PeerKmeError(KeyDeliveryError):
    """The KME at the other end of a link refused or failed a synchronisation step."""


class KeyExhaustedError(KeyDeliveryError):
    """No key is left in the pool. Nothing falls back to a weaker key; wait for the link."""


class KeyIdError(KeyDeliveryError):
    """A key ID is unknown, already consumed, or belongs to another SAE pair."""


class KeyNotEntitledError(KeyIdError):
    """Every key ID is known, but one was assigned for another master/slave pair (a KME's 401)."""


# --- key material sources and storage ------------------------------------------------------------


class KeySourceError(QkdlinkError):
    """A key source (test stream, pre-shared file, simulated link) failed or ran dry."""


class KeyStoreError(QkdlinkError):
    """The durable key store failed; the operation was not applied."""


# --- channels and transports (trio-like semantics, STYLE.md 8) -----------------------------------


class ChannelError(QkdlinkError):
    """Base of channel failures."""


class ChannelClosedError(ChannelError):
    """The channel was closed by this side; using it again is a caller error."""


class BrokenChannelError(ChannelError):
    """The peer or the network broke the channel; `__cause__` holds the underlying error."""


class BusyError(ChannelError):
    """Two tasks used the same direction of a channel at once."""


class EndOfChannelError(ChannelError):
    """The peer closed the channel in an orderly way: no more messages will arrive."""


class HandshakeError(ChannelError):
    """The channel handshake failed: stale, reused, unknown or mismatched QKD key ID, downgrade."""


class RekeyError(ChannelError):
    """A rekey from the QKD stream was missed or refused; the channel is ended, never continued."""


class TransportError(QkdlinkError):
    """The byte transport (TCP, MQTT broker) failed in a way the caller may retry."""


# --- MPC mesh ------------------------------------------------------------------------------------


class MeshError(QkdlinkError):
    """Base of party-mesh failures."""


class PartyDisconnectedError(MeshError):
    """A party left or timed out mid-protocol; `party` names it."""

    def __init__(self, party: str, message: str = "") -> None:
        super().__init__(f"party {party!r} disconnected" + (f": {message}" if message else ""))
        self.party = party


class UnexpectedMessageError(MeshError):
    """A message arrived with an unknown tag or a shape/dtype other than the one expected."""


class UnknownTagError(UnexpectedMessageError):
    """A party sent messages under tags this party does not take (outside its tag prefixes, or
    left unreceived): the two run different protocols or steps, which is not a disconnect.
    `party` names it; `tags` are (some of) those tags."""

    def __init__(self, party: str, tags: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.party = party
        self.tags = tuple(tags)
