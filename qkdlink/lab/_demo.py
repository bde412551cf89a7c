"""The key-delivery round trip through a two-node lab, used by `qkdlink demo` and tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import tempfile
from collections.abc import Callable

import aiohttp

from qkdlink.lab._layout import LabNode, LabSpec, create_lab
from qkdlink.lab._run import run_lab

__all__ = ["key_delivery_round_trip"]


def _sae_context(spec: LabSpec, node: LabNode) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(spec.ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(node.sae_cert, node.sae_key)
    return context


def _fingerprint(keys: list[bytes]) -> str:
    return hashlib.sha256(b"".join(keys)).hexdigest()[:16]


async def key_delivery_round_trip(
    *, number: int = 4, size: int = 256, out: Callable[[str], object] = print
) -> int:
    """Run the round trip; returns 0 when the slave received exactly the master's keys."""
    with tempfile.TemporaryDirectory(prefix="qkdlink-demo-") as tmp:
        spec = create_lab(tmp, nodes=("hospital-a", "hospital-b"))
        master, slave = spec.node("hospital-a"), spec.node("hospital-b")
        out(f"lab: {master.kme_id} at {master.kme_url} <-> {slave.kme_id} at {slave.kme_url}")
        async with run_lab(spec), aiohttp.ClientSession() as session:
            enc_url = f"{master.kme_url}/api/v1/keys/{slave.sae_id}/enc_keys"
            async with session.post(
                enc_url, json={"number": number, "size": size}, ssl=_sae_context(spec, master)
            ) as resp:
                body = await resp.read()
                if resp.status != 200:
                    out(f"enc_keys failed: {resp.status} {body.decode(errors='replace')}")
                    return 1
            sent = json.loads(body)["keys"]
            ids = [k["key_ID"] for k in sent]
            out(f"{master.sae_id}: enc_keys gave {len(ids)} keys of {size} bits")
            for key_id in ids:
                out(f"  key_ID {key_id}")
            dec_url = f"{slave.kme_url}/api/v1/keys/{master.sae_id}/dec_keys"
            async with session.post(
                dec_url,
                json={"key_IDs": [{"key_ID": i} for i in ids]},
                ssl=_sae_context(spec, slave),
            ) as resp:
                body = await resp.read()
                if resp.status != 200:
                    out(f"dec_keys failed: {resp.status} {body.decode(errors='replace')}")
                    return 1
            got = json.loads(body)["keys"]
        master_keys = [base64.b64decode(k["key"]) for k in sent]
        slave_keys = [base64.b64decode(k["key"]) for k in got]
        same_ids = [k["key_ID"] for k in got] == ids
        same_keys = same_ids and all(
            hmac.compare_digest(a, b) for a, b in zip(master_keys, slave_keys, strict=True)
        )
        out(f"{slave.sae_id}: dec_keys returned the same {len(got)} key IDs: {same_ids}")
        out(
            f"SHA-256 fingerprint master {_fingerprint(master_keys)} "
            f"slave {_fingerprint(slave_keys)}: {'match' if same_keys else 'MISMATCH'}"
        )
        return 0 if same_keys else 1
