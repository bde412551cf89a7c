"""Crash-test worker: reserve and take in a loop, printing each result only after it returned.

Usage: python -m tests.qkdlink.keystore._crash_worker CONFIG.json KEY_IDS.txt
A line on stdout is an acknowledgement: the store call committed before it was printed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from qkdlink.keystore import PostgresStoreConfig, SqliteStoreConfig, StoreConfig, open_key_store


def load_config(path: Path) -> StoreConfig:
    data = json.loads(path.read_text())
    if data.pop("backend") == "sqlite":
        return SqliteStoreConfig(Path(data["path"]), Path(data["master_key_file"]))
    return PostgresStoreConfig(data["dsn"], Path(data["master_key_file"]), schema=data["schema"])


async def run(config: StoreConfig, key_ids: list[str]) -> None:
    store = await open_key_store(config)
    try:
        for key_id in key_ids:
            allocations = await store.reserve("crash", 0, [16, 16])
            for a in allocations:
                print(json.dumps({"op": "reserve", "offset": a.offset, "hex": a.material.hex()}))
            taken = await store.take("M", "S", [key_id])
            print(json.dumps({"op": "take", "id": key_id, "hex": taken[0].material.hex()}))
            sys.stdout.flush()
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(run(load_config(Path(sys.argv[1])), Path(sys.argv[2]).read_text().split()))
