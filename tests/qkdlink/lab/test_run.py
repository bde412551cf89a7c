"""Running a lab in-process with a pre-shared key file, and the embedded demo round trip."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

import aiohttp

from qkdlink.kme import load_config
from qkdlink.lab import create_lab, run_lab
from qkdlink.lab._demo import key_delivery_round_trip


async def test_demo_round_trip_succeeds() -> None:
    lines: list[str] = []
    assert await key_delivery_round_trip(number=3, out=lines.append) == 0
    text = "\n".join(lines)
    assert "match" in text
    assert "MISMATCH" not in text
    assert text.count("key_ID ") == 3


async def test_file_key_source_keys_come_from_the_shared_file(tmp_path: Path) -> None:
    spec = create_lab(tmp_path, nodes=("a", "b"), key_source="file")
    a, b = spec.node("a"), spec.node("b")
    key_file = Path(load_config(a.config).peers[0].key_source.params["path"])
    head = key_file.read_bytes()[:64]  # noqa: ASYNC240 -- setup, before any server runs
    context = ssl.create_default_context(cafile=str(spec.ca_cert))
    context.load_cert_chain(a.sae_cert, a.sae_key)
    async with run_lab(spec), aiohttp.ClientSession() as session:
        target = f"{a.kme_url}/api/v1/keys/{b.sae_id}/enc_keys?number=2&size=256"
        async with session.get(target, ssl=context) as resp:
            assert resp.status == 200
            keys = json.loads(await resp.read())["keys"]
    # KME_a < KME_b owns partition 0 (blocks 0, 2, ...): its first keys are the file's first
    # bytes, in order.
    assert b"".join(base64.b64decode(k["key"]) for k in keys) == head
