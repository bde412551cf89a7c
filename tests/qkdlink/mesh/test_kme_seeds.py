"""A seed request against a real KME whose pool is empty: KeyExhaustedError, nothing else."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from qkdlink.channel import KmeKeyProvider, lab_sae_ids
from qkdlink.client import KmeClient, KmeClientConfig, RetryPolicy
from qkdlink.errors import KeyExhaustedError
from qkdlink.lab import create_lab, run_lab
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig

NODES = ("alpha", "beta")


async def agree_until_refused(alpha: Mesh, beta: Mesh, agreed: list[str]) -> None:
    for k in range(1000):
        master = asyncio.create_task(alpha.pair_seed("beta", f"s{k}"))
        slave = asyncio.create_task(beta.pair_seed("alpha", f"s{k}"))
        try:
            a, b = await asyncio.gather(master, slave)
        finally:
            slave.cancel()
        if a.seed != b.seed:
            raise AssertionError("pair seeds differ")
        agreed.append(a.key_id)


@pytest.mark.slow
async def test_seed_requests_until_the_pre_shared_file_is_used_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "links" / "alpha--beta.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_bytes(secrets.token_bytes(4096))  # one block: a few dozen 256-bit keys
    spec = create_lab(tmp_path, nodes=NODES, key_source="file")
    lab_json = spec.directory / "lab.json"
    sae_ids = lab_sae_ids(lab_json)
    net = MemoryNetwork()
    retry = RetryPolicy(attempts=1)
    async with (
        run_lab(spec),
        KmeClient(KmeClientConfig.from_lab(lab_json, "alpha", retry=retry)) as ka,
        KmeClient(KmeClientConfig.from_lab(lab_json, "beta", retry=retry)) as kb,
    ):
        alpha = Mesh(
            MeshConfig("alpha", NODES),
            net.transport("alpha"),
            keys=KmeKeyProvider(ka, sae_ids=sae_ids),
        )
        beta = Mesh(
            MeshConfig("beta", NODES),
            net.transport("beta"),
            keys=KmeKeyProvider(kb, sae_ids=sae_ids),
        )
        await asyncio.gather(alpha.start(), beta.start())
        agreed: list[str] = []
        try:
            with pytest.raises(KeyExhaustedError):
                await agree_until_refused(alpha, beta, agreed)
        finally:
            await alpha.aclose()
            await beta.aclose()
    assert 0 < len(agreed) < 1000
    # every seed came from a distinct QKD key; nothing was made up once the pool was empty
    assert len(set(agreed)) == len(agreed) == len(alpha.ledger)
