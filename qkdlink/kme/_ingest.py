"""Ingestion: copy a link's `KeySource` stream into the key store, paced by the source.

Both KMEs of a link run this loop on identical streams, so block `i` holds the same bytes at
both ends. The loop pauses while both partitions hold at least `cap_bytes` (the pool is full)
unless a peer assignment is waiting for material not ingested yet (`demand`), and so does the
source: a full pool stops the reading ahead after one block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from qkdlink.errors import KeySourceError
from qkdlink.keysource import KeyBlock, KeySource
from qkdlink.keystore import KeyStore

__all__ = ["LinkIngestor"]

_log = logging.getLogger("qkdlink.kme.ingest")

_BATCH_BLOCKS = 16
"""Blocks written per store transaction when the source produces faster than the store.

Small on purpose: ingestion shares the store's one worker thread with the peer's `assign` and
the slave's `take`, which wait behind a running ingest. At 64 blocks an ingest took up to
17 ms (90th percentile) during `kme-bulk`; with 16, alternating runs delivered 15-30% more
keys/s, and 16 blocks of 4 KiB per commit still ingest far faster than any QKD link."""
_QUEUE_BLOCKS = 128
"""Blocks read ahead of the store while the pool has room (backpressure on the source beyond
this); once the pool is full, at most one block is read ahead."""
_FULL_POLL_S = 0.05
"""How often a paused (full) loop re-checks the pool."""


class LinkIngestor:
    """The background ingestion of one link, and the signal others wait on for new material."""

    def __init__(self, link_id: str, source: KeySource, store: KeyStore, cap_bytes: int) -> None:
        self.link_id = link_id
        self._source = source
        self._store = store
        self._cap_bytes = cap_bytes
        self._progress = asyncio.Condition()
        self._demand = 0
        self.exhausted = False
        """True once a finite source has ended (no more material will ever arrive)."""

    async def wait_for_progress(self, limit_s: float) -> bool:
        """Wait until the next ingested batch (or the source's end); False on timeout.

        While waiting, the loop ingests even if the pool is full: a peer needs the material.
        """
        if self.exhausted:
            return False
        self._demand += 1
        try:
            async with self._progress:
                await asyncio.wait_for(self._progress.wait(), limit_s)
            return True
        except TimeoutError:
            return False
        finally:
            self._demand -= 1

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _pool_full(self) -> bool:
        if self._demand:
            return False
        pools = [await self._store.pool_bytes(self.link_id, p) for p in (0, 1)]
        return min(pools) >= self._cap_bytes

    async def run(self) -> None:
        """Ingest until cancelled or the source ends.

        Raises:
            KeySourceError: the source failed (the link then serves what it has).
        """
        start = await self._store.next_block_id(self.link_id)
        queue: asyncio.Queue[KeyBlock | None] = asyncio.Queue(_QUEUE_BLOCKS)
        room = asyncio.Event()  # clear while the consumer waits on a full pool
        room.set()

        async def produce() -> None:
            try:
                blocks = aiter(self._source.blocks(start))
                while True:
                    # While the pool is full and a block already waits, stop pulling: each
                    # pull makes the source distil a block (seconds of CPU for a simulated
                    # link), and read-ahead nobody takes would starve the rest of the host.
                    if not queue.empty():
                        await room.wait()
                    try:
                        block = await anext(blocks)
                    except StopAsyncIteration:
                        break
                    await queue.put(block)
            except asyncio.CancelledError:
                raise
            except BaseException:
                await queue.put(None)  # wake the consumer; it then re-raises via `producer`
                raise
            await queue.put(None)

        producer = asyncio.create_task(produce(), name=f"keysource:{self.link_id}")
        try:
            ended = False
            while not ended:
                # Polled, not signalled: with a shared PostgreSQL store other replicas consume.
                while await self._pool_full():
                    room.clear()
                    await asyncio.sleep(_FULL_POLL_S)
                room.set()
                first = await queue.get()
                batch: list[KeyBlock] = []
                if first is None:
                    ended = True
                else:
                    batch.append(first)
                    while len(batch) < _BATCH_BLOCKS and not queue.empty():
                        item = queue.get_nowait()
                        if item is None:
                            ended = True
                            break
                        batch.append(item)
                if batch:
                    await self._store.ingest(self.link_id, batch)
                await self._notify()
            self.exhausted = True
            await self._notify()
            try:
                await producer
            except Exception as exc:
                raise KeySourceError(f"key source of {self.link_id} failed") from exc
            _log.info("key source of link %s ended", self.link_id)
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
