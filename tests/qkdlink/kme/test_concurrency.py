"""64 concurrent SAE clients on both directions of a link: each key once, copies identical."""

from __future__ import annotations

import aiohttp
import pytest

from qkdlink.lab import Lab, LabSpec
from tests.qkdlink.kme._clients import both_directions
from tests.qkdlink.kme._load import Ledger

CLIENTS = 64


def _check(ledger: Ledger, expected: int) -> None:
    assert not ledger.duplicate_ids
    assert not ledger.errors
    assert len(ledger.acked) == expected
    # Every key ID went once to its master and once to its slave, with the same bytes.
    assert ledger.delivered.keys() == ledger.acked.keys()
    assert all(ledger.delivered[i] == ledger.acked[i][1] for i in ledger.acked)
    # No bytes were handed out for two key IDs (both directions drew disjoint material).
    assert len({material for _, material in ledger.acked.values()}) == expected


async def _run(spec: LabSpec, rounds: int, number: int) -> Ledger:
    ledger = Ledger()
    connector = aiohttp.TCPConnector(limit=CLIENTS * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        await both_directions(session, spec, CLIENTS, ledger, rounds=rounds, number=number)
    return ledger


async def test_64_clients_both_directions(lab: Lab, lab_spec: LabSpec) -> None:
    rounds, number = 3, 16
    ledger = await _run(lab_spec, rounds, number)
    _check(ledger, CLIENTS * rounds * number)


@pytest.mark.slow
async def test_100k_keys_64_clients_both_directions(lab: Lab, lab_spec: LabSpec) -> None:
    # 64 clients x 13 rounds x 121 keys = 100,672 keys (number <= max_key_per_request = 128).
    rounds, number = 13, 121
    ledger = await _run(lab_spec, rounds, number)
    _check(ledger, CLIENTS * rounds * number)
    assert len(ledger.acked) >= 100_000
