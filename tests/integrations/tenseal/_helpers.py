"""Helpers for the TenSEAL transfer tests: CKKS contexts and a quantum-keyed channel pair."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import tenseal as ts

from qkdlink.channel import Channel, connect, serve
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.transport import memory_transport_pair
from tests.qkdlink.mesh._helpers import channel_configs

CKKS_TOLERANCE = 1e-4
"""CKKS at a 2**40 scale errs by ~1e-9 fresh and ~1e-6 after one plaintext multiplication of
values near 10; a mixed-up or corrupted ciphertext is off by far more."""


def make_context(*, galois: bool = False) -> ts.Context:
    """A private CKKS context (~1.9 MB public, ~35 MB with Galois keys)."""
    context = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    context.global_scale = 2**40
    if galois:
        context.generate_galois_keys()
    return context


@contextlib.asynccontextmanager
async def channel_pair() -> AsyncIterator[tuple[Channel, Channel]]:
    """A connected (client, server) pair of qkdlink channels over an in-memory transport."""
    configs = channel_configs(("client", "server"), InMemoryKeyPool())
    end_a, end_b = memory_transport_pair()
    async with contextlib.AsyncExitStack() as stack:
        client, server = await asyncio.wait_for(
            asyncio.gather(
                stack.enter_async_context(connect(configs["client"]("server"), end_a)),
                stack.enter_async_context(serve(configs["server"]("client"), end_b)),
            ),
            10,
        )
        yield client, server
