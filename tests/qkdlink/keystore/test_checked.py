"""`CheckedKeyStore`: caller errors and empty requests never reach a backend's storage hooks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from qkdlink.errors import KeyIdError
from qkdlink.keysource import KeyBlock
from qkdlink.keystore import Allocation, KeyAssignment, StoredKey
from qkdlink.keystore._checked import AssignRequest, CheckedKeyStore

LINK = "a--b"


class RecordingStore(CheckedKeyStore):
    """Records each hook call; answers with fixed values."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def open(self) -> None:
        self.calls.append("open")

    async def aclose(self) -> None:
        self.calls.append("aclose")

    async def _ingest(self, link_id: str, blocks: Sequence[KeyBlock]) -> None:
        self.calls.append("ingest")

    async def _next_block_id(self, link_id: str) -> int:
        self.calls.append("next_block_id")
        return 7

    async def _pool_bytes(self, link_id: str, partition: int) -> int:
        self.calls.append("pool_bytes")
        return 64

    async def _reserve(
        self, link_id: str, partition: int, lengths: Sequence[int], total: int
    ) -> list[Allocation]:
        self.calls.append(f"reserve {total}")
        return []

    async def _assign(self, request: AssignRequest) -> None:
        self.calls.append(f"assign {request.partition} {len(request.assignments)}")

    async def _take(
        self, master_sae_id: str, slave_sae_id: str, key_ids: Sequence[str]
    ) -> list[tuple[str, bytes]]:
        self.calls.append("take")
        return [(key_id, b"\x00" * 4) for key_id in key_ids]

    async def _stored_key_count(self, master_sae_id: str, slave_sae_id: str) -> int:
        self.calls.append("stored_key_count")
        return 3


async def test_caller_errors_raise_before_any_hook() -> None:
    store = RecordingStore()
    assignment = KeyAssignment("k", 0, 8)
    with pytest.raises(ValueError, match="partition must be 0 or 1"):
        await store.pool_bytes(LINK, 2)
    with pytest.raises(ValueError, match="partition must be 0 or 1"):
        await store.reserve(LINK, -1, [8])
    with pytest.raises(ValueError, match="every reserved length must be positive"):
        await store.reserve(LINK, 0, [8, 0])
    with pytest.raises(ValueError, match="partition must be 0 or 1"):
        await store.assign(LINK, 3, [assignment], "M", ["S"])
    for slaves in ([], ["S", "S"]):
        with pytest.raises(ValueError, match="slave_sae_ids must be non-empty and distinct"):
            await store.assign(LINK, 0, [assignment], "M", slaves)
    with pytest.raises(KeyIdError, match="duplicate key ID in request"):
        await store.take("M", "S", ["k", "k"])
    assert store.calls == []


async def test_empty_requests_reach_no_hook() -> None:
    store = RecordingStore()
    await store.ingest(LINK, [])
    assert await store.reserve(LINK, 0, []) == []
    await store.assign(LINK, 1, [], "M", ["S"])
    assert await store.take("M", "S", []) == []
    assert store.calls == []


async def test_checked_requests_reach_their_hook() -> None:
    async with RecordingStore() as store:
        await store.ingest(LINK, [KeyBlock(0, b"\x01")])
        assert await store.next_block_id(LINK) == 7
        assert await store.pool_bytes(LINK, 1) == 64
        await store.reserve(LINK, 0, [8, 24])
        await store.assign(LINK, 0, [KeyAssignment("k", 0, 8)], "M", ["S"])
        assert await store.take("M", "S", ["k"]) == [StoredKey("k", b"\x00" * 4)]
        assert await store.stored_key_count("M", "S") == 3
    assert store.calls == [
        "open",
        "ingest",
        "next_block_id",
        "pool_bytes",
        "reserve 32",
        "assign 0 1",
        "take",
        "stored_key_count",
        "aclose",
    ]
