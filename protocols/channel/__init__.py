"""The qkdlink channel protocol (sans-IO): the record layer, its key schedule and events.

The handshake lives beside it (`_handshake*.py`); see docs/channel.md.
"""

from protocols.channel._frames import RecordType
from protocols.channel._handshake import (
    NOISE_PROTOCOL_NAME,
    HandshakeConfig,
    HandshakeInitiator,
    HandshakeResponder,
    HandshakeResult,
    handshake_prologue,
    peek_key_id,
)
from protocols.channel._handshake_errors import (
    DowngradeError,
    ReplayedHandshakeError,
    StaleHandshakeError,
)
from protocols.channel._handshake_replay import HandshakeReplayCache
from protocols.channel._hybrid import HandshakeMode
from protocols.channel._otp import otp_open, otp_pad_size, otp_seal
from protocols.channel._record import RecordLayer
from protocols.channel._record_config import Cipher, RecordConfig, RecordStats, otp_record_size
from protocols.channel._record_state import RecordState
from protocols.channel._rekey import (
    MAX_EPOCH,
    EpochExhaustedError,
    EpochKeys,
    KeyLifetimeError,
    initial_epoch_keys,
    next_epoch_keys,
)
from protocols.channel._replay import ReplayWindow, StrictOrder

__all__ = [
    "MAX_EPOCH",
    "NOISE_PROTOCOL_NAME",
    "Cipher",
    "DowngradeError",
    "EpochExhaustedError",
    "EpochKeys",
    "HandshakeConfig",
    "HandshakeInitiator",
    "HandshakeMode",
    "HandshakeReplayCache",
    "HandshakeResponder",
    "HandshakeResult",
    "KeyLifetimeError",
    "RecordConfig",
    "RecordLayer",
    "RecordState",
    "RecordStats",
    "RecordType",
    "ReplayWindow",
    "ReplayedHandshakeError",
    "StaleHandshakeError",
    "StrictOrder",
    "handshake_prologue",
    "initial_epoch_keys",
    "next_epoch_keys",
    "otp_open",
    "otp_pad_size",
    "otp_record_size",
    "otp_seal",
    "peek_key_id",
]
