"""Concurrent SAE clients on both directions of the A--B link, for the load and crash tests."""

from __future__ import annotations

import asyncio

import aiohttp

from qkdlink.lab import LabSpec
from tests.qkdlink.kme._load import Ledger, round_trips
from tests.qkdlink.kme.conftest import A, B


async def both_directions(
    session: aiohttp.ClientSession,
    spec: LabSpec,
    clients: int,
    ledger: Ledger,
    *,
    rounds: int,
    number: int,
    tolerate_failures: bool = False,
    stop: asyncio.Event | None = None,
) -> None:
    """Run `clients` SAE clients at once (`round_trips`), even ones A to B and odd ones B to A,
    all recording into `ledger`."""
    await asyncio.gather(
        *(
            round_trips(
                session,
                spec,
                A if i % 2 == 0 else B,
                B if i % 2 == 0 else A,
                rounds,
                number,
                ledger,
                tolerate_failures=tolerate_failures,
                stop=stop,
            )
            for i in range(clients)
        )
    )
