"""Events the record layer emits from `RecordLayer.next_event()`: frozen, slotted, one job each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "ArrayReceived",
    "CloseReceived",
    "Event",
    "MessageReceived",
    "OtpKeysRequested",
    "RekeyCompleted",
    "RekeyKeyRequested",
    "RekeyNeeded",
]


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A whole application message, with its boundaries as the peer sent it."""

    data: bytes = field(repr=False)
    """The message bytes (never printed: they may be patient data)."""
    otp: bool = False
    """True if it came under the one-time pad (information-theoretic protection)."""


@dataclass(frozen=True, slots=True, eq=False)
class ArrayReceived:
    """A numpy array sent with `RecordLayer.send_array`, decrypted into its own fresh buffer."""

    array: npt.NDArray[Any] = field(repr=False)
    """The array, C-contiguous, dtype and shape as sent."""


@dataclass(frozen=True, slots=True)
class RekeyNeeded:
    """(Initiator) a rekey limit was reached: fetch a fresh QKD key and call `start_rekey`."""


@dataclass(frozen=True, slots=True)
class RekeyKeyRequested:
    """(Responder) the peer announced a rekey: fetch this key by ID and call `accept_rekey`."""

    key_id: bytes
    """The QKD key ID announced in-band (an ETSI GS QKD 014 key ID, UTF-8)."""


@dataclass(frozen=True, slots=True)
class RekeyCompleted:
    """Both directions now use the new epoch's keys; the old sending key is wiped."""

    epoch: int
    """The epoch now in use."""


@dataclass(frozen=True, slots=True)
class OtpKeysRequested:
    """A one-time-pad message arrived: fetch these keys by ID and call `provide_otp_keys`.

    The record layer processes no further input until then, so message order is kept.
    """

    key_ids: tuple[bytes, ...]
    """The QKD key IDs forming the pad, in order."""


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer closed its sending direction in an orderly way (no truncation)."""


Event = (
    MessageReceived
    | ArrayReceived
    | RekeyNeeded
    | RekeyKeyRequested
    | RekeyCompleted
    | OtpKeysRequested
    | CloseReceived
)
