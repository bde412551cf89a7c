"""Ingestion stops pulling from the key source once the pool is full (no wasted distillation)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from qkdlink.keysource import KeyBlock
from qkdlink.keystore import SqliteKeyStore
from qkdlink.kme._ingest import LinkIngestor

LINK = "A--B"
BLOCK_BYTES = 1024


class CountingSource:
    """An endless source that counts the blocks pulled from it, each costing a little time
    (as a simulated link's distillation does; an instant source may fill the read-ahead queue
    before the pool is full, which is cheap and allowed)."""

    def __init__(self) -> None:
        self.pulled = 0

    @property
    def link_id(self) -> str:
        return LINK

    async def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        block_id = start
        while True:
            self.pulled += 1
            yield KeyBlock(block_id, bytes([block_id % 251]) * BLOCK_BYTES)
            block_id += 1
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        return None


async def test_full_pool_stops_the_source(tmp_path: Path) -> None:
    store = SqliteKeyStore(tmp_path / "k.db", master_key=bytes(range(32)))
    source = CountingSource()
    cap = 8 * BLOCK_BYTES
    async with store:
        ingestor = LinkIngestor(LINK, source, store, cap)
        task = asyncio.create_task(ingestor.run())
        try:
            for _ in range(400):
                pools = [await store.pool_bytes(LINK, p) for p in (0, 1)]
                if min(pools) >= cap:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)  # ten poll periods with the pool full
            ingested = await store.next_block_id(LINK)
            pulled = source.pulled
            await asyncio.sleep(0.5)
            # The source is not pulled while the pool is full: one block at most waits.
            assert source.pulled == pulled
            assert pulled <= ingested + 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
