"""The key-delivery round trip through a two-node lab, used by `qkdlink demo` and tests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tempfile
from collections.abc import Callable

from qkdlink.client import KmeClient, KmeClientConfig
from qkdlink.lab._layout import create_lab
from qkdlink.lab._run import run_lab

__all__ = ["key_delivery_round_trip"]


def _fingerprint(keys: list[bytes], salt: bytes) -> str:
    """HMAC-SHA-256 (RFC 2104) of the keys under a salt drawn for this run and then forgotten.

    Equal keys give equal fingerprints within one run, but no published string is a fixed
    function of the keys, so nobody can test guesses of (short) keys against the output.
    """
    return hmac.new(salt, b"".join(keys), hashlib.sha256).hexdigest()[:16]


async def key_delivery_round_trip(
    *, number: int = 4, size: int = 256, out: Callable[[str], object] = print
) -> int:
    """Run the round trip; returns 0 when the slave received exactly the master's keys.

    Raises:
        KeyDeliveryError: a KME refused or failed a request (see `qkdlink.errors`).
    """
    with tempfile.TemporaryDirectory(prefix="qkdlink-demo-") as tmp:
        spec = create_lab(tmp, nodes=("hospital-a", "hospital-b"))
        lab_json = spec.directory / "lab.json"
        master, slave = spec.node("hospital-a"), spec.node("hospital-b")
        out(f"lab: {master.kme_id} at {master.kme_url} <-> {slave.kme_id} at {slave.kme_url}")
        out("link key source: test (deterministic, NOT secret: a lab stand-in for QKD)")
        async with (
            run_lab(spec),
            KmeClient(KmeClientConfig.from_lab(lab_json, master.name)) as master_sae,
            KmeClient(KmeClientConfig.from_lab(lab_json, slave.name)) as slave_sae,
        ):
            sent = await master_sae.get_key(slave.sae_id, number=number, size=size)
            out(f"{master.sae_id}: enc_keys gave {len(sent.keys)} keys of {size} bits")
            for key in sent.keys:
                out(f"  key_ID {key.key_id}")
            got = await slave_sae.get_key_with_ids(master.sae_id, sent.key_ids)
        same_ids = got.key_ids == sent.key_ids
        master_keys = [k.key for k in sent.keys]
        slave_keys = [k.key for k in got.keys]
        same_keys = same_ids and all(
            hmac.compare_digest(a, b) for a, b in zip(master_keys, slave_keys, strict=True)
        )
        out(f"{slave.sae_id}: dec_keys returned the same {len(got.keys)} key IDs: {same_ids}")
        salt = secrets.token_bytes(32)
        out(
            f"fingerprint (HMAC-SHA-256, one-run salt) master {_fingerprint(master_keys, salt)} "
            f"slave {_fingerprint(slave_keys, salt)}: {'match' if same_keys else 'MISMATCH'}"
        )
        return 0 if same_keys else 1
