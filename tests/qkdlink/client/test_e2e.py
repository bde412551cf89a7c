"""End to end: the SAE client against two real KMEs of a lab (`qkdlink.lab`), over mutual TLS.

The master SAE gets keys from its KME, the slave gets the identical keys from the other KME,
and the KMEs' refusals reach the caller as the typed errors of `qkdlink.errors`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from protocols.etsi014 import MSG_KEYS_NOT_FOUND, MSG_SIZE_NOT_MULTIPLE_OF_8
from qkdlink.client import KmeClient, KmeClientConfig, SyncKmeClient
from qkdlink.errors import KmeBadRequestError, KmeUnauthorizedError
from qkdlink.lab import create_lab, run_lab

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def lab_json(tmp_path: Path) -> AsyncIterator[Path]:
    spec = create_lab(tmp_path / "lab", nodes=("a", "b"))
    async with run_lab(spec):
        yield spec.directory / "lab.json"


async def test_master_and_slave_get_identical_keys(lab_json: Path) -> None:
    async with (
        KmeClient(KmeClientConfig.from_lab(lab_json, "a")) as master,
        KmeClient(KmeClientConfig.from_lab(lab_json, "b")) as slave,
    ):
        status = await master.status("SAE_b")
        assert (status.source_kme_id, status.target_kme_id) == ("KME_a", "KME_b")
        assert (status.master_sae_id, status.slave_sae_id) == ("SAE_a", "SAE_b")

        enc = await master.get_key("SAE_b", number=3, size=256)
        dec = await slave.get_key_with_ids("SAE_a", enc.key_ids)
        assert dec == enc
        assert len({k.key for k in enc.keys}) == 3

        # Delivered once, then deleted (clause 5.4 post-condition).
        with pytest.raises(KmeBadRequestError) as info:
            await slave.get_key_with_ids("SAE_a", enc.key_ids)
        assert info.value.message == MSG_KEYS_NOT_FOUND

        # Both directions at once on one link; the default size is the Status key_size.
        a_keys, b_keys = await asyncio.gather(
            master.get_key("SAE_b", number=2), slave.get_key("SAE_a", number=2)
        )
        assert not set(a_keys.key_ids) & set(b_keys.key_ids)
        assert all(k.size == status.key_size for k in a_keys.keys)
        assert await master.get_key_with_ids("SAE_b", b_keys.key_ids) == b_keys


async def test_refusals_are_typed(lab_json: Path) -> None:
    async with KmeClient(KmeClientConfig.from_lab(lab_json, "a")) as master:
        with pytest.raises(KmeBadRequestError) as info:
            await master.get_key("SAE_b", size=100)
        assert info.value.message == MSG_SIZE_NOT_MULTIPLE_OF_8
        enc = await master.get_key("SAE_b")
    # SAE_a's certificate at KME_b, asking for the keys meant for SAE_b: not entitled (5.4).
    b = KmeClientConfig.from_lab(lab_json, "b")
    a = KmeClientConfig.from_lab(lab_json, "a")
    intruder = dataclasses.replace(b, cert=a.cert, key=a.key, sae_id=a.sae_id)
    async with KmeClient(intruder) as client:
        with pytest.raises(KmeUnauthorizedError):
            await client.get_key_with_ids("SAE_a", enc.key_ids)
    async with KmeClient(b) as slave:  # ... and the refusal consumed nothing
        assert await slave.get_key_with_ids("SAE_a", enc.key_ids) == enc


async def test_sync_client_round_trip(lab_json: Path) -> None:
    def work() -> bool:
        with (
            SyncKmeClient(KmeClientConfig.from_lab(lab_json, "a")) as master,
            SyncKmeClient(KmeClientConfig.from_lab(lab_json, "b")) as slave,
        ):
            enc = master.get_key("SAE_b", number=2, size=512)
            return slave.get_key_with_ids("SAE_a", enc.key_ids) == enc

    assert await asyncio.to_thread(work)
