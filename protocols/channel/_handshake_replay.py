"""A sans-IO replay cache for handshake initiations: clock window plus single-use key IDs.

An initiation is accepted once: its timestamp must lie within `window` seconds of the
responder's `now`, and its QKD key ID must not have been seen inside that window. Entries older
than the window are dropped (their timestamps would be refused anyway), so memory is bounded
by the handshake rate times the window; `max_entries` caps it outright by evicting the oldest
entry and refusing every timestamp not newer than it. This is the in-process guard; the KME's
rule that `dec_keys` delivers each key once is the durable one (a restarted responder loses
this cache, not the KME's record).
"""

from __future__ import annotations

import heapq
import math
import uuid

from protocols.channel._handshake_errors import ReplayedHandshakeError, StaleHandshakeError
from protocols.errors import LocalProtocolError

__all__ = ["HandshakeReplayCache"]


class HandshakeReplayCache:
    """Remembers the key IDs of accepted initiations for `window` seconds."""

    __slots__ = ("_expiry", "_floor", "_max_entries", "_seen", "window")

    def __init__(self, window: float = 120.0, max_entries: int = 1 << 16) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ValueError("window must be a positive number of seconds")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.window = window
        self._max_entries = max_entries
        self._seen: dict[uuid.UUID, float] = {}
        self._expiry: list[tuple[float, bytes]] = []
        self._floor = -math.inf

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, key_id: uuid.UUID, timestamp: float, now: float) -> None:
        """Refuse a stale or repeated initiation without recording it.

        Raises:
            StaleHandshakeError: `timestamp` is outside ``now ± window`` or not newer than an
                evicted entry.
            ReplayedHandshakeError: `key_id` was accepted before within the window.
            LocalProtocolError: `now` or `timestamp` is not a finite number.
        """
        if not (math.isfinite(now) and math.isfinite(timestamp)):
            raise LocalProtocolError("now and timestamp must be finite")
        self._expire(now)
        if abs(timestamp - now) > self.window or timestamp <= self._floor:
            raise StaleHandshakeError("handshake timestamp outside the accepted window")
        if key_id in self._seen:
            raise ReplayedHandshakeError("handshake with an already used QKD key ID")

    def record(self, key_id: uuid.UUID, timestamp: float, now: float) -> None:
        """Check, then remember an accepted initiation.

        Raises:
            StaleHandshakeError, ReplayedHandshakeError: as `check`.
        """
        self.check(key_id, timestamp, now)
        self._seen[key_id] = timestamp
        heapq.heappush(self._expiry, (timestamp, key_id.bytes))
        while len(self._seen) > self._max_entries:
            oldest, raw = heapq.heappop(self._expiry)
            self._seen.pop(uuid.UUID(bytes=raw), None)
            self._floor = max(self._floor, oldest)

    def _expire(self, now: float) -> None:
        limit = now - self.window
        while self._expiry and self._expiry[0][0] < limit:
            _, raw = heapq.heappop(self._expiry)
            self._seen.pop(uuid.UUID(bytes=raw), None)
