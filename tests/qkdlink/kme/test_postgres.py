"""A KME pair on PostgreSQL stores: the same round trip as on SQLite."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import psycopg
import pytest

from qkdlink.keystore._config import PostgresStoreConfig
from qkdlink.kme import KmeServer, load_config
from qkdlink.lab import create_lab
from tests.qkdlink.kme.conftest import client_context

pytestmark = pytest.mark.network

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture
def schemas() -> Iterator[list[str]]:
    names = [f"kme_test_{secrets.token_hex(4)}_{i}" for i in range(2)]
    yield names
    with psycopg.connect(DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


async def test_round_trip_on_postgres_stores(tmp_path: Path, schemas: list[str]) -> None:
    spec = create_lab(tmp_path, nodes=("a", "b"))
    configs = []
    for node, schema in zip(spec.nodes, schemas, strict=True):
        config = load_config(node.config)
        store = PostgresStoreConfig(
            dsn=DSN, master_key_file=config.store.master_key_file, schema=schema
        )
        configs.append(dataclasses.replace(config, store=store))
    a, b = spec.node("a"), spec.node("b")
    async with AsyncExitStack() as stack:
        for config in configs:
            await stack.enter_async_context(KmeServer(config))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        enc = f"{a.kme_url}/api/v1/keys/{b.sae_id}/enc_keys?number=5"
        async with session.get(
            enc, ssl=client_context(spec.ca_cert, a.sae_cert, a.sae_key)
        ) as resp:
            assert resp.status == 200
            sent = json.loads(await resp.read())
        body = {"key_IDs": [{"key_ID": k["key_ID"]} for k in sent["keys"]]}
        async with session.post(
            f"{b.kme_url}/api/v1/keys/{a.sae_id}/dec_keys",
            json=body,
            ssl=client_context(spec.ca_cert, b.sae_cert, b.sae_key),
        ) as resp:
            assert resp.status == 200
            assert json.loads(await resp.read()) == sent
    # The keys really went through PostgreSQL: both KMEs created their schemas there.
    async with await psycopg.AsyncConnection.connect(DSN) as conn:
        cursor = await conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY(%s)",
            (schemas,),
        )
        assert sorted(row[0] for row in await cursor.fetchall()) == sorted(schemas)
