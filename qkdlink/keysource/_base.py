"""The `KeySource` interface: an async, resumable stream of key blocks shared by a link's ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class KeyBlock:
    """One block of raw key material that both ends of a link hold identically."""

    block_id: int
    """Position in the link's stream, from 0, the same at both ends."""
    material: bytes = field(repr=False)
    """The secret bytes; never printed (repr=False) or logged."""

    def __len__(self) -> int:
        return len(self.material)


@runtime_checkable
class KeySource(Protocol):
    """An async stream of `KeyBlock`s that both ends of one QKD link see identically.

    Implementations pace themselves at the link's key rate and may end (a finite file): the
    iterator then stops, and the KME reports an exhausted pool rather than inventing key.
    """

    @property
    def link_id(self) -> str:
        """A name of the link, the same at both ends (used for domain separation and logs)."""
        ...

    def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        """Yield blocks `start`, `start + 1`, ... in order; resumable after a restart."""
        ...

    async def aclose(self) -> None:
        """Release resources (files, simulator workers)."""
        ...
