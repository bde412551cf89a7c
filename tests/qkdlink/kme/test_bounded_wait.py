"""dec_keys for an ID the slave's KME has not heard of yet: a bounded wait, then 400."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocols.etsi014 import MSG_KEYS_NOT_FOUND
from qkdlink.kme import LimitsConfig
from qkdlink.lab import Lab, LabSpec, create_lab, run_lab
from tests.qkdlink.kme.conftest import SAE_A, SAE_B, A, B, Sae, client_context, url


@pytest.fixture
def waiting_spec(tmp_path: Path) -> LabSpec:
    return create_lab(tmp_path, nodes=(A, B), limits=LimitsConfig(dec_keys_wait_s=2.0))


@pytest.fixture
async def waiting_lab(waiting_spec: LabSpec) -> AsyncIterator[Lab]:
    async with run_lab(waiting_spec) as lab:
        yield lab


async def test_key_arriving_during_the_wait_is_delivered(
    waiting_lab: Lab, waiting_spec: LabSpec, session: aiohttp.ClientSession
) -> None:
    spec = waiting_spec
    node_b = spec.node(B)
    sae_b = Sae(session, client_context(spec.ca_cert, node_b.sae_cert, node_b.sae_key))
    tls = spec.directory / A / "tls"
    kme_a = Sae(
        session,
        client_context(spec.ca_cert, tls / "KME_hospital-a.pem", tls / "KME_hospital-a-key.pem"),
    )
    key_id = str(uuid.uuid4())
    fetch = asyncio.create_task(
        sae_b.request("GET", url(spec, B, SAE_A, "dec_keys") + f"?key_ID={key_id}")
    )
    await asyncio.sleep(0.3)
    assert not fetch.done()  # still waiting for the ID
    # KME a now assigns the key (as its sync would), while the slave's request waits.
    group = {"master_SAE_ID": SAE_A, "slave_SAE_IDs": [SAE_B], "keys": [[key_id, 0, 32]]}
    assign = f"{node_b.kme_url}/peer/v1/links/hospital-a--hospital-b/assign"
    confirmed = await kme_a.request("POST", assign, json_body={"partition": 0, "groups": [group]})
    assert confirmed.status == 200
    reply = await fetch
    assert reply.status == 200
    assert reply.body["keys"][0]["key_ID"] == key_id  # type: ignore[index]


async def test_unknown_id_after_the_wait_is_400(
    waiting_lab: Lab, waiting_spec: LabSpec, session: aiohttp.ClientSession
) -> None:
    node_b = waiting_spec.node(B)
    sae_b = Sae(session, client_context(waiting_spec.ca_cert, node_b.sae_cert, node_b.sae_key))
    reply = await sae_b.request(
        "GET", url(waiting_spec, B, SAE_A, "dec_keys") + f"?key_ID={uuid.uuid4()}"
    )
    assert reply.status == 400
    assert reply.body["message"] == MSG_KEYS_NOT_FOUND
