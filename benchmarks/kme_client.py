"""`kme-client`: what `KmeClient.get_key` adds on top of a bare HTTPS request.

Both sides talk to one in-process aiohttp server over mutual TLS on loopback (lab PKI, TLS 1.3,
keep-alive) that answers every `enc_keys` with the same static one-key Key container. The
candidate is `KmeClient.get_key` (request building, strict parsing, response checks, the
retry/error machinery); the baseline, alternated with it in the same event loop, is a bare
`aiohttp` POST of the same body whose response is only read. The ratio is the client's overhead
on the `kme` round trip (issue 2: <= 2 ms, <= 1.5x a bare HTTPS GET).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks._harness import BenchOptions, Record, compare

# Our own target: the client may add at most a quarter to a bare request.
_TARGET = "ratio <= 1.25"


async def _measure(opts: BenchOptions, root: Path) -> list[Record]:
    import ssl
    import uuid

    import aiohttp
    from aiohttp import web

    from protocols.etsi014 import Key, KeyContainer, KeyRequest
    from qkdlink.client import KmeClient, KmeClientConfig
    from qkdlink.pki import LabCA

    rounds = 30 if opts.quick else 500
    ca = LabCA.create(root / "ca")
    kme_cert = ca.issue_kme_cert("KME_bench", root / "kme")
    sae_cert = ca.issue_sae_cert("SAE_a", root / "sae")
    body = KeyContainer((Key(uuid.uuid4(), bytes(32)),)).to_json()

    async def enc_keys(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(kme_cert.cert, kme_cert.key)
    server_ctx.load_verify_locations(cafile=ca.cert_path)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_post("/api/v1/keys/{sae}/enc_keys", enc_keys)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = runner.addresses[0][1]
    url = f"https://127.0.0.1:{port}"
    config = KmeClientConfig(
        url=url, kme_id="KME_bench", cert=sae_cert.cert, key=sae_cert.key, ca=ca.cert_path
    )
    bare_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    bare_ctx.load_cert_chain(sae_cert.cert, sae_cert.key)
    request_body = KeyRequest().to_json()
    headers = {"Content-Type": "application/json"}
    try:
        async with (
            KmeClient(config) as client,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=bare_ctx)) as session,
        ):

            async def bare() -> None:
                post = session.post(
                    f"{url}/api/v1/keys/SAE_b/enc_keys", data=request_body, headers=headers
                )
                async with post as response:
                    await response.read()

            await client.get_key("SAE_b")  # both connections established before timing
            await bare()
            cand: list[float] = []
            base: list[float] = []
            for _ in range(rounds):
                start = time.perf_counter()
                await client.get_key("SAE_b")
                cand.append(time.perf_counter() - start)
                start = time.perf_counter()
                await bare()
                base.append(time.perf_counter() - start)
    finally:
        await runner.cleanup()
    value, baseline = statistics.median(cand) * 1e3, statistics.median(base) * 1e3
    return [
        compare(
            "kme-client",
            "get_key_median",
            value,
            "ms",
            baseline="bare aiohttp POST of the same request, same server and run",
            baseline_value=baseline,
            target=_TARGET,
            met=value / baseline <= 1.25,
        )
    ]


def bench_kme_client(opts: BenchOptions) -> list[Record]:
    with tempfile.TemporaryDirectory(prefix="bench-kme-client-") as tmp:
        return asyncio.run(_measure(opts, Path(tmp)))


BENCHMARKS = {"kme-client": bench_kme_client}
