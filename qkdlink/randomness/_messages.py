"""The seed-agreement messages: a key ID, a wrapped group seed, a confirmation, or a refusal.

Every message starts with a one-byte type, so a refusal can never be taken for a key ID or a
wrapped seed: K (key ID follows), W (wrapped group seed follows), C (group complete), R (refused;
a fixed reason code follows). A refusal carries no key material and no free text: the receiver
turns the code into its own typed error naming the refusing party, at once rather than after
its receive timeout, and derives nothing (never local randomness instead of a QKD key).
"""

from __future__ import annotations

from enum import Enum

from qkdlink.errors import (
    ConfigurationError,
    KeyDeliveryError,
    KeyExhaustedError,
    KmeUnavailableError,
    MeshError,
    QkdlinkError,
    RemoteProtocolError,
)

__all__ = [
    "Reason",
    "decode_confirmation",
    "decode_key_id",
    "decode_wrapped",
    "encode_confirmation",
    "encode_key_id",
    "encode_refusal",
    "encode_wrapped",
    "reason_for",
]

_KEY_ID, _WRAPPED, _COMPLETE, _REFUSED = b"K", b"W", b"C", b"R"


class Reason(Enum):
    """Why a party refused a seed; the value is the code sent."""

    EXHAUSTED = b"exhausted"
    """No QKD key on the link (an empty pool, a KME's 503)."""
    KEY_DELIVERY = b"key-delivery"
    """The KME failed otherwise (refused, unreachable, malformed answer, repeated key ID)."""
    SHORT_KEY = b"short-key"
    """The KME delivers keys shorter than a seed's 256 bits."""
    ABORTED = b"aborted"
    """A group leader gave up: its exchange with another member failed."""


def reason_for(error: BaseException) -> Reason:
    """The code under which a failure to obtain or use a key is refused to the peer."""
    if isinstance(error, (KeyExhaustedError, KmeUnavailableError)):
        return Reason.EXHAUSTED
    if isinstance(error, ConfigurationError):
        return Reason.SHORT_KEY
    if isinstance(error, KeyDeliveryError):
        return Reason.KEY_DELIVERY
    return Reason.ABORTED


def _refused_error(party: str, purpose: str, code: bytes) -> QkdlinkError:
    what = f"party {party!r} refused the seed {purpose!r}"
    try:
        reason = Reason(code)
    except ValueError:
        return RemoteProtocolError(f"{what} with an unknown reason code")
    if reason is Reason.EXHAUSTED:
        return KeyExhaustedError(f"{what}: it has no QKD key left for it")
    if reason is Reason.KEY_DELIVERY:
        return KeyDeliveryError(f"{what}: its KME did not deliver a key")
    if reason is Reason.SHORT_KEY:
        return ConfigurationError(f"{what}: its KME delivers keys shorter than 256 bits")
    return MeshError(f"{what}: its exchange with another member of the group failed")


def _body(message: bytes, kind: bytes, party: str, purpose: str) -> bytes:
    """The body of a message of type `kind`; a refusal or another type raises."""
    head, body = message[:1], message[1:]
    if head == kind:
        return body
    if head == _REFUSED:
        raise _refused_error(party, purpose, body)
    raise RemoteProtocolError(f"party {party!r} sent a seed message of unknown type")


def encode_refusal(reason: Reason) -> bytes:
    """A refusal: no key ID, no key material, only the reason code."""
    return _REFUSED + reason.value


def encode_key_id(key_id: str) -> bytes:
    """The master's message naming the QKD key a pair seed comes from."""
    return _KEY_ID + key_id.encode("ascii")


def decode_key_id(message: bytes, party: str, purpose: str) -> str:
    """The key ID in `party`'s message (not echoed in errors: the peer chose it).

    Raises:
        KeyExhaustedError, KeyDeliveryError, ConfigurationError, MeshError: `party` refused.
        RemoteProtocolError: the message is of no known type.
    """
    return _body(message, _KEY_ID, party, purpose).decode("ascii", errors="replace")


def encode_wrapped(wrapped: bytes) -> bytes:
    """The leader's message carrying a wrapped group seed."""
    return _WRAPPED + wrapped


def decode_wrapped(message: bytes, party: str, purpose: str) -> bytes:
    """The wrapped group seed in the leader's message; raises as `decode_key_id`."""
    return _body(message, _WRAPPED, party, purpose)


def encode_confirmation() -> bytes:
    """The leader's word to the second member that the whole group was agreed."""
    return _COMPLETE


def decode_confirmation(message: bytes, party: str, purpose: str) -> None:
    """Checks the leader's confirmation; raises as `decode_key_id`."""
    if _body(message, _COMPLETE, party, purpose):
        raise RemoteProtocolError(f"party {party!r} sent a malformed group confirmation")
