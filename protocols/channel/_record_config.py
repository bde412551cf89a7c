"""Configuration and counters of the record layer (`RecordConfig`, `RecordStats`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from protocols.channel._frames import TAG_SIZE

__all__ = ["Cipher", "RecordConfig", "RecordStats", "otp_record_size"]

Cipher = Literal["AESGCM", "ChaChaPoly"]
"""AEAD names as in the Noise specification rev. 34 (sections 12.3 ChaChaPoly, 12.4 AESGCM)."""

_MAX_RECORD_PAYLOAD = 1 << 24
# A counter never reaches 2**64 - 1: the nonce space of one key is never exhausted (WireGuard's
# Reject-After-Messages is 2**64 - 2**13 - 1 for the same reason). The config caps far lower.
_MAX_RECORDS_PER_KEY = (1 << 64) - (1 << 13) - 1


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """Limits and policies of one record connection; validated on construction (ValueError)."""

    cipher: Cipher = "AESGCM"
    """AES-256-GCM (hardware AES) or ChaCha20-Poly1305 (RFC 8439)."""
    max_record_payload: int = 65536
    """Largest plaintext in one record; a header announcing more is refused before buffering."""
    max_message_size: int = 64 << 20
    """Largest bytes message (fragmented transparently); HE contexts are about 35 MB."""
    max_array_size: int = 4 << 30
    """Largest array buffer accepted with `send_array` (allocated when its header arrives)."""
    replay_window: int | None = None
    """None: strict order (TCP). Otherwise an RFC 6479 window of this many records: duplicates
    and records older than the window are dropped, reordering within it is tolerated."""
    rekey_after_time: float = 120.0
    """Seconds before the initiator rekeys (WireGuard's Rekey-After-Time)."""
    reject_after_time: float = 180.0
    """Seconds after which a key is never used again (WireGuard's Reject-After-Time)."""
    rekey_timeout: float = 30.0
    """Seconds the initiator waits for REKEY_ACK (includes the peer's KME fetch)."""
    rekey_after_bytes: int = 1 << 34
    """Payload bytes in one direction before the initiator rekeys."""
    reject_after_bytes: int = 1 << 35
    """Payload bytes after which a key is refused (AES-GCM usage limit with wide margin)."""
    rekey_after_records: int = 1 << 24
    """Records in one direction before the initiator rekeys."""
    reject_after_records: int = 1 << 25
    """Records after which a key is refused."""
    old_epoch_grace: float = 10.0
    """Window mode: seconds old-epoch records are still accepted after the switch."""

    def __post_init__(self) -> None:
        if self.cipher not in ("AESGCM", "ChaChaPoly"):
            raise ValueError(f"unknown cipher {self.cipher!r}")
        if not 1024 <= self.max_record_payload <= _MAX_RECORD_PAYLOAD:
            raise ValueError("max_record_payload must be in 1 KiB .. 16 MiB")
        if self.max_message_size < 0 or self.max_array_size < 0:
            raise ValueError("message and array caps must be non-negative")
        if self.replay_window is not None and not 64 <= self.replay_window <= 1 << 16:
            raise ValueError("replay_window must be 64 .. 65536 records (or None for strict)")
        if not 0 < self.rekey_after_time < self.reject_after_time:
            raise ValueError("need 0 < rekey_after_time < reject_after_time")
        if self.rekey_timeout <= 0:
            raise ValueError("rekey_timeout must be positive")
        if not 0 < self.rekey_after_bytes < self.reject_after_bytes:
            raise ValueError("need 0 < rekey_after_bytes < reject_after_bytes")
        if not 0 < self.rekey_after_records < self.reject_after_records <= _MAX_RECORDS_PER_KEY:
            raise ValueError("need 0 < rekey_after_records < reject_after_records < 2**64")
        if self.old_epoch_grace < 0:
            raise ValueError("old_epoch_grace must be non-negative")

    @property
    def max_otp_message(self) -> int:
        """Upper bound of an OTP message: one record minus the tag and one UUID key ID.

        The exact limit also counts every key ID of the pad (`otp_record_size`).
        """
        return self.max_record_payload - otp_record_size(0, [b"0" * 36])


def otp_record_size(message_size: int, key_ids: Sequence[bytes]) -> int:
    """Plaintext size of the OTP_MESSAGE record for this message and these pad key IDs."""
    return 1 + sum(1 + len(k) for k in key_ids) + message_size + TAG_SIZE


@dataclass(slots=True)
class RecordStats:
    """Counters of one record connection (application payload bytes, not wire bytes)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    records_sent: int = 0
    records_received: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    records_dropped: int = 0
    """Window mode: duplicates and too-old records silently discarded."""
    rekeys: int = 0
    otp_key_bytes: int = 0
    """QKD key bytes consumed by one-time-pad messages, both directions."""
