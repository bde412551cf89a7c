"""`AsyncClosing`: the `async with` support shared by qkdlink's resources that have `aclose()`.

Entering returns the resource itself; leaving awaits `aclose()` whatever the outcome, as trio's
`AsyncResource` does (`trio/_abc.py`). A resource that must start something on entry overrides
`__aenter__` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

__all__ = ["AsyncClosing"]


class AsyncClosing(ABC):
    """Mixin: ``async with x`` gives ``x`` and awaits ``x.aclose()`` on the way out."""

    __slots__ = ()

    @abstractmethod
    async def aclose(self) -> None:
        """Release the resource; called by `__aexit__` whether or not the block raised."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
