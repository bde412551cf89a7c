"""A finite key source: the KME hands out what exists, then answers 503, never invents key."""

from __future__ import annotations

import dataclasses
import json
import ssl
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp

from qkdlink.kme import KeySourceConfig, KmeServer, load_config
from qkdlink.lab import create_lab
from tests.qkdlink.kme.conftest import client_context


async def test_finite_source_then_503(tmp_path: Path) -> None:
    spec = create_lab(tmp_path, nodes=("a", "b"))
    # Two 64-byte blocks: partition 0 (KME_a's) holds exactly 64 bytes = two 256-bit keys.
    source = KeySourceConfig("test", {"seed": "x", "block_bytes": 64, "max_blocks": 2})
    configs = []
    for node in spec.nodes:
        config = load_config(node.config)
        peers = tuple(dataclasses.replace(p, key_source=source) for p in config.peers)
        configs.append(dataclasses.replace(config, peers=peers))
    a, b = spec.node("a"), spec.node("b")
    context: ssl.SSLContext = client_context(spec.ca_cert, a.sae_cert, a.sae_key)
    enc = f"{a.kme_url}/api/v1/keys/{b.sae_id}/enc_keys"
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(KmeServer(c)) for c in configs]
        session = await stack.enter_async_context(aiohttp.ClientSession())
        link = next(iter(servers[0].links.values()))
        while not link.ingestor.exhausted:
            await link.ingestor.wait_for_progress(1.0)
        async with session.get(f"{a.kme_url}/api/v1/keys/{b.sae_id}/status", ssl=context) as r:
            assert json.loads(await r.read())["stored_key_count"] == 2
        async with session.get(enc + "?number=3", ssl=context) as resp:
            assert resp.status == 503
            assert "not enough key" in json.loads(await resp.read())["message"]
        async with session.get(enc + "?number=2", ssl=context) as resp:
            assert resp.status == 200
            assert len(json.loads(await resp.read())["keys"]) == 2
        async with session.get(enc, ssl=context) as resp:
            assert resp.status == 503
