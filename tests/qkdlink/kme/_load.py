"""Concurrent SAE load through a lab, recording every acknowledged and delivered key."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass, field

import aiohttp

from qkdlink.lab import LabSpec
from tests.qkdlink.kme.conftest import client_context


@dataclass
class Ledger:
    """What the SAEs saw: enc_keys acknowledged to masters, dec_keys delivered to slaves."""

    acked: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """key ID -> (direction, bytes) from 200 enc_keys answers."""
    delivered: dict[str, bytes] = field(default_factory=dict)
    """key ID -> bytes from 200 dec_keys answers."""
    duplicate_ids: list[str] = field(default_factory=list)
    unanswered_dec: set[str] = field(default_factory=set)
    """IDs whose dec_keys got no answer (connection lost): the KME may have deleted them."""
    errors: list[int] = field(default_factory=list)

    def record_enc(self, direction: str, keys: list[dict[str, str]]) -> list[str]:
        ids = []
        for key in keys:
            key_id = key["key_ID"]
            if key_id in self.acked:
                self.duplicate_ids.append(key_id)
            self.acked[key_id] = (direction, base64.b64decode(key["key"]))
            ids.append(key_id)
        return ids

    def record_dec(self, keys: list[dict[str, str]]) -> None:
        for key in keys:
            if key["key_ID"] in self.delivered:
                self.duplicate_ids.append(key["key_ID"])
            self.delivered[key["key_ID"]] = base64.b64decode(key["key"])


def sae_context(spec: LabSpec, node: str) -> ssl.SSLContext:
    lab_node = spec.node(node)
    return client_context(spec.ca_cert, lab_node.sae_cert, lab_node.sae_key)


async def dec_keys(
    session: aiohttp.ClientSession,
    spec: LabSpec,
    slave: str,
    master: str,
    ids: list[str],
    ledger: Ledger,
) -> int:
    """Fetch `ids` at the slave's KME; returns the HTTP status (0: no answer)."""
    target = f"{spec.node(slave).kme_url}/api/v1/keys/{spec.node(master).sae_id}/dec_keys"
    body = json.dumps({"key_IDs": [{"key_ID": i} for i in ids]})
    try:
        async with session.post(
            target,
            data=body,
            headers={"Content-Type": "application/json"},
            ssl=sae_context(spec, slave),
        ) as resp:
            raw = await resp.read()
            if resp.status == 200:
                ledger.record_dec(json.loads(raw)["keys"])
                ledger.unanswered_dec.difference_update(ids)
            return resp.status
    except (aiohttp.ClientError, TimeoutError):
        ledger.unanswered_dec.update(ids)
        return 0


async def round_trips(
    session: aiohttp.ClientSession,
    spec: LabSpec,
    master: str,
    slave: str,
    rounds: int,
    number: int,
    ledger: Ledger,
    *,
    tolerate_failures: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """One SAE client: `rounds` x (enc_keys at master's KME, dec_keys at slave's KME), or
    until `stop` is set."""
    target = (
        f"{spec.node(master).kme_url}/api/v1/keys/{spec.node(slave).sae_id}/enc_keys"
        f"?number={number}"
    )
    context = sae_context(spec, master)
    for _ in range(rounds):
        if stop is not None and stop.is_set():
            return
        try:
            async with session.get(target, ssl=context) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            if not tolerate_failures:
                raise
            ledger.errors.append(0)
            await asyncio.sleep(0.05)
            continue
        if status != 200:
            ledger.errors.append(status)
            if not tolerate_failures:
                raise AssertionError(f"enc_keys answered {status}: {raw[:200]!r}")
            await asyncio.sleep(0.05)
            continue
        ids = ledger.record_enc(f"{master}->{slave}", json.loads(raw)["keys"])
        code = await dec_keys(session, spec, slave, master, ids, ledger)
        if code != 200 and not tolerate_failures:
            raise AssertionError(f"dec_keys answered {code}")
