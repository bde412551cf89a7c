"""A two-node lab (in-process KMEs, SQLite stores, test key source) and an SAE HTTP helper."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from qkdlink.kme import LimitsConfig
from qkdlink.lab import Lab, LabSpec, create_lab, run_lab

A, B = "hospital-a", "hospital-b"
SAE_A, SAE_B, SAE_B2 = "SAE_hospital-a", "SAE_hospital-b", "SAE_hospital-b-2"

TEST_LIMITS = LimitsConfig(
    key_size=256,
    max_key_per_request=128,
    max_key_count=8192,
    max_SAE_ID_count=2,
    max_body_bytes=16 * 1024,
)


@dataclass
class Reply:
    status: int
    body: dict[str, object]
    raw: bytes


class Sae:
    """An SAE talking plain aiohttp (the SAE client is tested in its own area)."""

    def __init__(self, session: aiohttp.ClientSession, context: ssl.SSLContext) -> None:
        self.session = session
        self.context = context

    async def request(
        self, method: str, url: str, *, body: bytes | None = None, json_body: object = None
    ) -> Reply:
        data = json.dumps(json_body).encode() if json_body is not None else body
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(
            method, url, data=data, headers=headers, ssl=self.context
        ) as resp:
            raw = await resp.read()
            parsed = json.loads(raw) if raw else {}
            return Reply(resp.status, parsed, raw)


def client_context(ca: Path, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def lab_spec(tmp_path: Path) -> LabSpec:
    return create_lab(
        tmp_path / "lab", nodes=(A, B), limits=TEST_LIMITS, extra_sae_ids={B: [SAE_B2]}
    )


@pytest.fixture
async def lab(lab_spec: LabSpec) -> AsyncIterator[Lab]:
    async with run_lab(lab_spec) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def sae_for(spec: LabSpec, session: aiohttp.ClientSession, node: str, sae_id: str) -> Sae:
    cert_dir = spec.directory / node / "sae"
    context = client_context(
        spec.ca_cert, cert_dir / f"{sae_id}.pem", cert_dir / f"{sae_id}-key.pem"
    )
    return Sae(session, context)


@pytest.fixture
def sae_a(lab_spec: LabSpec, session: aiohttp.ClientSession) -> Sae:
    return sae_for(lab_spec, session, A, SAE_A)


@pytest.fixture
def sae_b(lab_spec: LabSpec, session: aiohttp.ClientSession) -> Sae:
    return sae_for(lab_spec, session, B, SAE_B)


@pytest.fixture
def sae_b2(lab_spec: LabSpec, session: aiohttp.ClientSession) -> Sae:
    return sae_for(lab_spec, session, B, SAE_B2)


def url(spec: LabSpec, node: str, sae_id: str, endpoint: str) -> str:
    return f"{spec.node(node).kme_url}/api/v1/keys/{sae_id}/{endpoint}"
