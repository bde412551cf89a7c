"""`kill -9` of a KME during concurrent load, then restart: nothing twice, nothing acked lost.

KMEs run as subprocesses of a lab. SAE clients on both directions record every enc_keys answer
(acknowledged keys) and every dec_keys answer (delivered keys). Each KME is killed with SIGKILL
mid-load and restarted. Afterwards every acknowledged key that was not delivered is fetched:
it must come back with the acknowledged bytes. The only keys allowed to be missing are those
whose dec_keys request was cut off by the kill without an answer (at-most-once delivery: the
KME may have deleted the key and died before answering; docs/kme.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from qkdlink.lab import create_lab, run_lab
from tests.qkdlink.kme._clients import both_directions
from tests.qkdlink.kme._load import Ledger, dec_keys
from tests.qkdlink.kme.conftest import TEST_LIMITS, A, B

pytestmark = [pytest.mark.network, pytest.mark.slow]

CLIENTS = 16
KEYS_PER_REQUEST = 8
KILLS = 2


async def test_kill_9_during_load_loses_and_repeats_nothing(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab", nodes=(A, B), limits=TEST_LIMITS)
    ledger = Ledger()
    async with run_lab(spec, mode="subprocess") as lab:
        connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            stop = asyncio.Event()

            async def acked_at_least(count: int) -> None:
                while len(ledger.acked) < count:  # noqa: ASYNC110 -- polls a plain dict
                    await asyncio.sleep(0.02)

            load_task = asyncio.create_task(
                both_directions(
                    session,
                    spec,
                    CLIENTS,
                    ledger,
                    rounds=10_000,
                    number=KEYS_PER_REQUEST,
                    tolerate_failures=True,
                    stop=stop,
                )
            )
            for victim in (A, B)[:KILLS]:
                # Kill only under load: after a few hundred more keys were acknowledged.
                await asyncio.wait_for(acked_at_least(len(ledger.acked) + 300), 60)
                errors_before = len(ledger.errors)
                await lab.kill_node(victim)
                await asyncio.sleep(0.3)
                await lab.start_node(victim)
                assert len(ledger.errors) > errors_before  # the outage was seen
            await asyncio.wait_for(acked_at_least(len(ledger.acked) + 300), 60)
            stop.set()
            await load_task

            assert len(ledger.acked) >= 900
            assert not ledger.duplicate_ids
            # Collect what was acknowledged but not delivered yet.
            for key_id, (direction, _material) in sorted(ledger.acked.items()):
                if key_id in ledger.delivered:
                    continue
                master, slave = direction.split("->")
                code = await dec_keys(session, spec, slave, master, [key_id], ledger)
                if key_id in ledger.unanswered_dec and code == 400:
                    continue  # deleted by a dec_keys the kill cut off (at-most-once)
                assert code == 200, (key_id, code)
            # Delivered keys are gone: asking again never yields a second copy.
            some = sorted(ledger.delivered)[:50]
            for key_id in some:
                direction, _ = ledger.acked[key_id]
                master, slave = direction.split("->")
                assert await dec_keys(session, spec, slave, master, [key_id], ledger) == 400
    assert not ledger.duplicate_ids
    for key_id, material in ledger.delivered.items():
        assert ledger.acked[key_id][1] == material
    lost = set(ledger.acked) - set(ledger.delivered)
    assert lost <= ledger.unanswered_dec
    # Each kill can cut off at most one dec_keys request per client, each of KEYS_PER_REQUEST keys.
    assert len(lost) <= KILLS * CLIENTS * KEYS_PER_REQUEST
    assert len({m for _, m in ledger.acked.values()}) == len(ledger.acked)
