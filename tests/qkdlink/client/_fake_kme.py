"""A scripted KME over real mutual TLS on loopback, for the SAE client and CLI tests."""

from __future__ import annotations

import base64
import json
import os
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from qkdlink.client import KmeClientConfig, RetryPolicy
from qkdlink.pki import CertPaths, LabCA

KME_ID = "KME_a"
SAE_A = "SAE_a"
SAE_B = "SAE_b"

Handler = Callable[[web.Request], web.StreamResponse | None]


@dataclass
class Lab:
    """The test PKI (the lab's own `qkdlink.pki`): the CA, the KME's and an SAE's certificate,
    a KME certificate from a foreign CA, and one naming another KME ID."""

    ca: Path
    kme: CertPaths
    sae: CertPaths
    foreign_kme: CertPaths
    other_kme: CertPaths
    wrong_host_kme: CertPaths
    foreign_sae: CertPaths


def make_lab(root: Path) -> Lab:
    """Certificates from the lab's own `qkdlink.pki`, written under `root`."""
    ca = LabCA.create(root / "ca")
    foreign = LabCA.create(root / "foreign", name="foreign CA")
    return Lab(
        ca=ca.cert_path,
        kme=ca.issue_kme_cert(KME_ID, root / "kme"),
        sae=ca.issue_sae_cert(SAE_A, root / "sae"),
        foreign_kme=foreign.issue_kme_cert(KME_ID, root / "foreign-kme"),
        other_kme=ca.issue_kme_cert("KME_other", root / "other-kme"),
        wrong_host_kme=ca.issue_kme_cert(KME_ID, root / "wrong-host", hosts=("127.0.0.2",)),
        foreign_sae=foreign.issue_sae_cert(SAE_A, root / "foreign-sae"),
    )


def json_response(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


@dataclass
class FakeKme:
    """A minimal, scriptable ETSI 014 KME: a script of handlers consumed one per request, then
    the default behaviour (status, enc_keys, dec_keys on an in-memory pool)."""

    script: list[Handler] = field(default_factory=list)
    requests: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)
    pool: dict[str, bytes] = field(default_factory=dict)
    status_source_kme_id: str = KME_ID

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else ""
        self.requests.append((request.method, request.path_qs, body, cn))
        if request.transport is not None:
            self.peers.add(request.transport.get_extra_info("peername"))
        while self.script:
            response = self.script.pop(0)(request)
            if response is not None:
                return response
            break
        return self.default(request, body)

    def default(self, request: web.Request, body: bytes) -> web.StreamResponse:
        sae, action = request.match_info["sae"], request.match_info["action"]
        if action == "status":
            return json_response(
                200,
                {
                    "source_KME_ID": self.status_source_kme_id,
                    "target_KME_ID": "KME_b",
                    "master_SAE_ID": SAE_A,
                    "slave_SAE_ID": sae,
                    "key_size": 256,
                    "stored_key_count": 100,
                    "max_key_count": 1000,
                    "max_key_per_request": 16,
                    "max_key_size": 1024,
                    "min_key_size": 64,
                    "max_SAE_ID_count": 0,
                },
            )
        if action == "enc_keys":
            req = json.loads(body or b"{}")
            keys = []
            for _ in range(req.get("number", 1)):
                key_id, material = str(uuid.uuid4()), os.urandom(req.get("size", 256) // 8)
                self.pool[key_id] = material
                keys.append({"key_ID": key_id, "key": base64.b64encode(material).decode()})
            return json_response(200, {"keys": keys})
        ids = [k["key_ID"] for k in json.loads(body)["key_IDs"]]
        if not all(i in self.pool for i in ids):
            return json_response(
                400, {"message": "one or more keys specified are not found on KME"}
            )
        keys = [{"key_ID": i, "key": base64.b64encode(self.pool.pop(i)).decode()} for i in ids]
        return json_response(200, {"keys": keys})


def server_context(lab: Lab, cert: CertPaths) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    context.load_verify_locations(cafile=lab.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass
class RunningKme:
    fake: FakeKme
    url: str
    port: int


async def start_kme(lab: Lab, cert: CertPaths) -> tuple[web.AppRunner, RunningKme]:
    fake = FakeKme()
    app = web.Application()
    app.router.add_route("*", "/api/v1/keys/{sae}/{action}", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(lab, cert))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, RunningKme(fake, f"https://127.0.0.1:{port}", port)


def client_config(lab: Lab, url: str, **changes: Any) -> KmeClientConfig:
    values: dict[str, Any] = dict(
        url=url,
        kme_id=KME_ID,
        cert=lab.sae.cert,
        key=lab.sae.key,
        ca=lab.ca,
        sae_id=SAE_A,
        retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05),
        request_timeout=5.0,
    )
    values.update(changes)
    return KmeClientConfig(**values)
