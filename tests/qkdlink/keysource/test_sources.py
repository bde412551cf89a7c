"""Both ends of a link see identical, resumable key streams; nothing secret is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError, KeySourceError
from qkdlink.keysource import FileKeySource, KeyBlock, KeySource, TestKeySource


async def _take(source: KeySource, count: int, start: int = 0) -> list[KeyBlock]:
    out: list[KeyBlock] = []
    async for block in source.blocks(start):
        out.append(block)
        if len(out) == count:
            break
    return out


async def test_test_source_is_identical_at_both_ends_and_resumable() -> None:
    alice = TestKeySource("a-b", seed=b"s", block_bytes=64)
    bob = TestKeySource("a-b", seed=b"s", block_bytes=64)
    a = await _take(alice, 5)
    b = await _take(bob, 5)
    assert [x.material for x in a] == [x.material for x in b]
    assert [x.block_id for x in a] == [0, 1, 2, 3, 4]
    assert len({x.material for x in a}) == 5
    resumed = await _take(bob, 2, start=3)
    assert [x.material for x in resumed] == [x.material for x in a[3:5]]


async def test_test_source_separates_links_and_seeds() -> None:
    base = TestKeySource("a-b", seed=b"s").block(0).material
    assert TestKeySource("a-c", seed=b"s").block(0).material != base
    assert TestKeySource("a-b", seed=b"t").block(0).material != base


async def test_test_source_ends_at_max_blocks() -> None:
    blocks = await _take(TestKeySource("x", block_bytes=8, max_blocks=3), 10)
    assert len(blocks) == 3


def test_block_repr_hides_material() -> None:
    block = TestKeySource("x", block_bytes=32).block(0)
    assert block.material.hex() not in repr(block)
    assert repr(block.material) not in repr(block)


async def test_file_source_serves_whole_blocks_only(tmp_path: Path) -> None:
    path = tmp_path / "psk.bin"
    path.write_bytes(bytes(range(256)) * 2 + b"tail")
    source = FileKeySource("a-b", path, block_bytes=128)
    blocks = await _take(source, 100)
    assert [b.block_id for b in blocks] == [0, 1, 2, 3]
    assert b"".join(b.material for b in blocks) == bytes(range(256)) * 2
    assert [b.material for b in await _take(source, 1, start=2)] == [blocks[2].material]


async def test_file_source_missing_file_is_typed(tmp_path: Path) -> None:
    with pytest.raises(KeySourceError):
        await _take(FileKeySource("a-b", tmp_path / "missing"), 1)


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ConfigurationError):
        TestKeySource("x", block_bytes=0)
    with pytest.raises(ConfigurationError):
        FileKeySource("x", "f", block_bytes=-1)


def test_sources_satisfy_the_protocol() -> None:
    assert isinstance(TestKeySource("x"), KeySource)
    assert isinstance(FileKeySource("x", "f"), KeySource)
