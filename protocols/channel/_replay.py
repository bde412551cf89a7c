"""Replay protection for received record counters: strict order (TCP) or a sliding window.

`ReplayWindow` is the bitmap algorithm of RFC 6479 ("IPsec Anti-Replay Algorithm without Bit
Shifting"), as WireGuard uses it (Donenfeld, "WireGuard: Next Generation Kernel Network Tunnel",
NDSS 2017, section 5.4.6): the bitmap is a ring of 64-bit blocks, a counter's bit position is fixed
(``counter mod (64 * blocks)``), and sliding the window only clears whole blocks. One block is
kept spare so that the window always covers at least ``size`` counters below the highest seen.

Both classes share one protocol: `check(counter)` before the AEAD check (cheap rejection), then
`update(counter)` only after the record authenticated, as RFC 4303 section 3.4.3 requires of
IPsec ESP (the receive window moves only after the integrity check of the packet succeeded):
updating on an unauthenticated counter would let a forger slide the window and block genuine
records. RFC 6479 changes only how the window is stored (the bitmap above), not this rule.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ReplayFilter", "ReplayWindow", "StrictOrder"]

_BLOCK_BITS = 64


class ReplayFilter(Protocol):
    """What the record layer needs of a replay filter."""

    def check(self, counter: int) -> bool:
        """True if a record with this counter may be accepted (not seen, not too old)."""
        ...

    def update(self, counter: int) -> None:
        """Mark an authenticated counter as seen."""
        ...


class StrictOrder:
    """Counters must arrive exactly in order 0, 1, 2, ...: any gap, repeat or swap is refused."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def check(self, counter: int) -> bool:
        return counter == self._next

    def update(self, counter: int) -> None:
        self._next = counter + 1


class ReplayWindow:
    """RFC 6479 sliding window accepting each counter once, in any order, within `size` of the top.

    Args:
        size: the minimum number of counters below the highest seen that are still accepted
            (WireGuard uses 8192 - 64 = 8128). Rounded up to whole 64-bit blocks.
    """

    __slots__ = ("_bitmap", "_blocks", "_top", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("replay window size must be positive")
        # RFC 6479 section 2: a power-of-two number of blocks lets the ring index be a mask; one
        # extra block is the "redundant" block that makes sliding a matter of zeroing blocks.
        blocks = 1
        while (blocks - 1) * _BLOCK_BITS < size:
            blocks *= 2
        self._blocks = blocks
        self._bitmap = [0] * blocks
        self._top = -1
        self.size = (blocks - 1) * _BLOCK_BITS
        """Counters this far below the highest seen are still accepted (>= the size asked for)."""

    def check(self, counter: int) -> bool:
        if counter > self._top:
            return True
        if self._top - counter >= self.size:
            return False
        block = (counter // _BLOCK_BITS) & (self._blocks - 1)
        return not (self._bitmap[block] >> (counter % _BLOCK_BITS)) & 1

    def update(self, counter: int) -> None:
        if counter > self._top:
            current = self._top // _BLOCK_BITS if self._top >= 0 else -1
            target = counter // _BLOCK_BITS
            for step in range(1, min(target - current, self._blocks) + 1):
                self._bitmap[(current + step) & (self._blocks - 1)] = 0
            self._top = counter
        block = (counter // _BLOCK_BITS) & (self._blocks - 1)
        self._bitmap[block] |= 1 << (counter % _BLOCK_BITS)
