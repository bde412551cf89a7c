"""Key providers: the in-memory link, and the KME adapter against a real two-node lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from qkdlink.channel import InMemoryQkdLink, KmeKeyProvider, QkdKeyProvider, lab_sae_ids
from qkdlink.client import KmeClient, KmeClientConfig
from qkdlink.errors import ConfigurationError, KeyExhaustedError, KeyIdError
from qkdlink.lab import create_lab, run_lab


async def test_in_memory_link_delivers_each_key_once_to_the_named_slave() -> None:
    link = InMemoryQkdLink(capacity=2)
    a, b, c = link.provider("a"), link.provider("b"), link.provider("c")
    assert isinstance(a, QkdKeyProvider)
    key_id, key = await a.new_key("b")
    assert len(key) == 32
    with pytest.raises(KeyIdError):
        await c.key_by_id("a", key_id)  # not the slave it was issued for
    assert await b.key_by_id("a", key_id) == key
    with pytest.raises(KeyIdError):
        await b.key_by_id("a", key_id)  # consumed
    await a.new_key("b")
    with pytest.raises(KeyExhaustedError):
        await a.new_key("b")
    with pytest.raises(ConfigurationError):
        InMemoryQkdLink(key_bytes=16)


@pytest.mark.network
async def test_kme_provider_against_a_real_lab(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab", nodes=("hospital-a", "hospital-b"))
    lab_json = spec.directory / "lab.json"
    sae_ids = lab_sae_ids(lab_json)
    async with (
        run_lab(spec),
        KmeClient(KmeClientConfig.from_lab(lab_json, "hospital-a")) as client_a,
        KmeClient(KmeClientConfig.from_lab(lab_json, "hospital-b")) as client_b,
    ):
        master = KmeKeyProvider(client_a, sae_ids=sae_ids, batch=3)
        slave = KmeKeyProvider(client_b, sae_ids=sae_ids)
        issued = [await master.new_key("hospital-b") for _ in range(4)]  # two enc_keys calls
        assert len({key_id for key_id, _ in issued}) == 4
        for key_id, key in reversed(issued):
            assert await slave.key_by_id("hospital-a", key_id) == key
        with pytest.raises(KeyIdError):
            await slave.key_by_id("hospital-a", issued[0][0])  # the KME delivers it once
