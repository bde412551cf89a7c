"""The qkdlink channel protocol (sans-IO): the record layer, its key schedule and events.

The handshake lives beside it (`_handshake*.py`); see docs/channel.md.
"""

from protocols.channel._frames import RecordType
from protocols.channel._otp import otp_open, otp_pad_size, otp_seal
from protocols.channel._record import Cipher, RecordConfig, RecordLayer, RecordStats
from protocols.channel._record_state import RecordState
from protocols.channel._rekey import (
    EpochKeys,
    KeyLifetimeError,
    initial_epoch_keys,
    next_epoch_keys,
)
from protocols.channel._replay import ReplayWindow, StrictOrder

__all__ = [
    "Cipher",
    "EpochKeys",
    "KeyLifetimeError",
    "RecordConfig",
    "RecordLayer",
    "RecordState",
    "RecordStats",
    "RecordType",
    "ReplayWindow",
    "StrictOrder",
    "initial_epoch_keys",
    "next_epoch_keys",
    "otp_open",
    "otp_pad_size",
    "otp_seal",
]
