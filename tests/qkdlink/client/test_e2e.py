"""End to end: the SAE client against two real KMEs of a lab (`qkdlink.lab`), over mutual TLS.

The master SAE gets keys from its KME, the slave gets the identical keys from the other KME,
and the KMEs' refusals reach the caller as the typed errors of `qkdlink.errors`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from protocols.etsi014 import (
    MSG_BAD_REQUEST_FORMAT,
    MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    MSG_KEYS_NOT_FOUND,
    MSG_SIZE_NOT_MULTIPLE_OF_8,
    ErrorBody,
)
from qkdlink.client import KmeClient, KmeClientConfig, SyncKmeClient, client_ssl_context
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


# Bodies that are not I-JSON (RFC 7493): escaped lone surrogates, whose names a 400 detail would
# echo, and numbers that overflow to infinity; plus an unsupported extension name too long to
# echo whole. Each must get 400 with a well-formed Error body (5xx would break clause 5).
_HOSTILE_ENC_KEYS = {
    "surrogate-member-name": b'{"\\ud800": 1}',
    "surrogate-duplicate-names": b'{"\\ud800": 1, "\\ud800": 2}',
    "surrogate-extension-value": b'{"extension_optional": [{"abc": ["\\udc00"]}]}',
    "surrogate-extension-name": b'{"extension_mandatory": [{"\\udbff_route": 1}]}',
    "number-beyond-double": b'{"extension_optional": [{"abc_max_age": 1e400}]}',
    "long-extension-name": b'{"extension_mandatory": [{"' + b"x" * 5000 + b'": 1}]}',
}
_HOSTILE_DEC_KEYS = {
    "surrogate-key-id": b'{"key_IDs": [{"key_ID": "\\ud800"}]}',
    "number-beyond-double": b'{"key_IDs": [{"key_ID": "bc490419-7d60-487f-adc1-4ddcc177c139",'
    b' "key_ID_extension": {"abc": -1e400}}]}',
}


async def test_non_i_json_bodies_get_400_with_an_error_body(lab_json: Path) -> None:
    a = KmeClientConfig.from_lab(lab_json, "a")
    keys = f"{a.base_url}/api/v1/keys"
    cases = [(f"{keys}/SAE_b/enc_keys", name, body) for name, body in _HOSTILE_ENC_KEYS.items()]
    cases += [(f"{keys}/SAE_b/dec_keys", name, body) for name, body in _HOSTILE_DEC_KEYS.items()]
    headers = {"Content-Type": "application/json"}
    context = client_ssl_context(a)
    async with aiohttp.ClientSession() as session:
        for url, name, body in cases:
            async with session.post(url, data=body, headers=headers, ssl=context) as response:
                raw = await response.read()
                assert (name, response.status) == (name, 400)
                assert response.content_type == "application/json"
            error = ErrorBody.from_json(raw)  # well-formed: strict parse of Table 13
            assert error.details, name
            assert len(raw) < 1000, name  # an echoed name is bounded
            expected = (
                MSG_EXTENSION_MANDATORY_UNSUPPORTED
                if name == "long-extension-name"
                else MSG_BAD_REQUEST_FORMAT
            )
            assert error.message == expected, name
    # The KME keeps serving.
    async with KmeClient(a) as master:
        assert len((await master.get_key("SAE_b")).keys) == 1
