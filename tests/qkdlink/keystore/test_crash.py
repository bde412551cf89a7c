"""SIGKILL mid-run: every acknowledged reservation stays consumed, every acknowledged take stays
delivered, nothing is handed out twice, and at most the one call in flight is lost."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from qkdlink.errors import KeyIdError
from qkdlink.keysource import TestKeySource
from qkdlink.keystore import (
    KeyAssignment,
    PostgresStoreConfig,
    SqliteStoreConfig,
    StoreConfig,
    create_master_key_file,
    open_key_store,
)
from tests.qkdlink.keystore.conftest import POSTGRES_DSN

ROOT = Path(__file__).resolve().parents[3]
SOURCE = TestKeySource("crash", seed=b"crash-test", block_bytes=64)
BLOCKS = 1200  # 600 blocks = 38,400 bytes per partition
KEYS = 1200  # 16-byte keys assigned from partition 1
ACKS_BEFORE_KILL = 150


def partition_stream(partition: int) -> bytes:
    return b"".join(SOURCE.block(i).material for i in range(partition, BLOCKS, 2))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.network)])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    key_file = tmp_path / "master.key"
    create_master_key_file(key_file)
    if request.param == "sqlite":
        data = {"backend": "sqlite", "path": str(tmp_path / "kme.db")}
        yield data | {"master_key_file": str(key_file)}
        return
    schema = f"qkdtest_{secrets.token_hex(6)}"
    yield {
        "backend": "postgres",
        "dsn": POSTGRES_DSN,
        "schema": schema,
        "master_key_file": str(key_file),
    }
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def store_config(data: dict[str, str]) -> StoreConfig:
    if data["backend"] == "sqlite":
        return SqliteStoreConfig(Path(data["path"]), Path(data["master_key_file"]))
    return PostgresStoreConfig(data["dsn"], Path(data["master_key_file"]), schema=data["schema"])


@pytest.mark.slow
async def test_sigkill_loses_no_acknowledged_result_and_repeats_nothing(
    config: dict[str, str], tmp_path: Path
) -> None:
    key_ids = [str(uuid.uuid4()) for _ in range(KEYS)]
    store = await open_key_store(store_config(config))
    await store.ingest("crash", [SOURCE.block(i) for i in range(BLOCKS)])
    assignments = [KeyAssignment(k, 16 * i, 16) for i, k in enumerate(key_ids)]
    await store.assign("crash", 1, assignments, "M", ["S"])
    await store.aclose()
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(key_ids))

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.qkdlink.keystore._crash_worker",
        str(config_file),
        str(ids_file),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    lines: list[str] = []
    try:
        while len(lines) < ACKS_BEFORE_KILL:
            line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode()
            assert line, "worker ended before it was killed"
            lines.append(line)
    finally:
        child.send_signal(signal.SIGKILL)
        rest = await asyncio.wait_for(child.stdout.read(), 30)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    lines += rest.decode().splitlines()  # printed before the kill: acknowledged as well
    acks = [json.loads(line) for line in lines if line.strip()]

    reserved = [(a["offset"], bytes.fromhex(a["hex"])) for a in acks if a["op"] == "reserve"]
    taken = {a["id"]: bytes.fromhex(a["hex"]) for a in acks if a["op"] == "take"}
    even, odd = partition_stream(0), partition_stream(1)
    for offset, material in reserved:
        assert material == even[offset : offset + 16]
    for index, key_id in enumerate(key_ids[: len(taken)]):
        assert taken[key_id] == odd[16 * index : 16 * index + 16]  # taken in order, once each

    store = await open_key_store(store_config(config))
    try:
        # Reservations: the rest of the pool starts past every acknowledged one; at most the
        # reservation in flight at the kill (32 bytes) was consumed without acknowledgement.
        acked_end = max(offset + 16 for offset, _ in reserved)
        rest_pool = await store.pool_bytes("crash", 0)
        after = await store.reserve("crash", 0, [rest_pool])
        assert after[0].offset >= acked_end
        assert after[0].offset - acked_end <= 32
        assert after[0].material == even[after[0].offset :]
        # Takes: acknowledged keys are gone; of the others at most the one in flight is gone.
        for key_id in taken:
            with pytest.raises(KeyIdError):
                await store.take("M", "S", [key_id])
        remaining = [k for k in key_ids if k not in taken]
        count = await store.stored_key_count("M", "S")
        assert len(remaining) - 1 <= count <= len(remaining)
        delivered = 0
        for index, key_id in enumerate(key_ids):
            if key_id in taken:
                continue
            try:
                got = await store.take("M", "S", [key_id])
            except KeyIdError:
                continue
            assert got[0].material == odd[16 * index : 16 * index + 16]
            delivered += 1
        assert delivered == count
        assert await store.stored_key_count("M", "S") == 0
    finally:
        await store.aclose()
