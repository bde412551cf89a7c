"""A key source reading a pre-shared key file, as labs exchange them out of band.

Both ends hold a copy of the same file; block `i` is bytes `[i*block_bytes, (i+1)*block_bytes)`.
The stream ends at the last whole block (a partial tail is never used: both ends must agree).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from qkdlink.errors import ConfigurationError, KeySourceError
from qkdlink.keysource._base import KeyBlock


class FileKeySource:
    """Serve fixed-size blocks of a pre-shared key file."""

    def __init__(self, link_id: str, path: Path | str, *, block_bytes: int = 4096) -> None:
        if block_bytes <= 0:
            raise ConfigurationError("block_bytes must be positive")
        self._link_id = link_id
        self._path = Path(path)
        self._block_bytes = block_bytes

    @property
    def link_id(self) -> str:
        return self._link_id

    def _read(self, block_id: int) -> bytes | None:
        try:
            with self._path.open("rb") as handle:
                handle.seek(block_id * self._block_bytes)
                data = handle.read(self._block_bytes)
        except OSError as exc:
            raise KeySourceError(f"cannot read key file {self._path}") from exc
        return data if len(data) == self._block_bytes else None

    async def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        block_id = start
        while True:
            data = await asyncio.to_thread(self._read, block_id)
            if data is None:
                return
            yield KeyBlock(block_id, data)
            block_id += 1

    async def aclose(self) -> None:
        return None
