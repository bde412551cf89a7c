"""Round trips: a public context and CKKS vectors over a quantum-keyed channel and a mesh peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
import tenseal as ts

from integrations.tenseal import (
    MeshPeerChannel,
    recv_ckks_vector,
    recv_ckks_vectors,
    recv_context,
    send_ckks_vector,
    send_ckks_vectors,
    send_context,
)
from qkdlink.channel import Channel
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig
from tests.integrations.tenseal._helpers import CKKS_TOLERANCE, channel_pair, make_context


async def test_context_and_a_stream_of_vectors_round_trip_over_a_quantum_keyed_channel() -> None:
    ctx = make_context()
    rows = np.random.default_rng().uniform(-10, 10, size=(5, 40))

    async def client(channel: Channel) -> list[list[float]]:
        await send_context(channel, ctx, fragment_size=256 * 1024)
        vectors = (ts.ckks_vector(ctx, row.tolist()) for row in rows)
        assert await send_ckks_vectors(channel, vectors, fragment_size=64 * 1024) == len(rows)
        return [v.decrypt() async for v in recv_ckks_vectors(channel, ctx)]

    async def server(channel: Channel) -> tuple[bool, int]:
        public = await recv_context(channel)

        async def scored() -> AsyncIterator[ts.CKKSVector]:
            async for encrypted in recv_ckks_vectors(channel, public):
                yield encrypted * 2.0 + 1.0  # computed on ciphertexts; the server cannot decrypt

        count = await send_ckks_vectors(channel, scored())
        return bool(public.is_private()), count

    async with channel_pair() as (a, b):
        results, (server_private, count) = await asyncio.wait_for(
            asyncio.gather(client(a), server(b)), 30
        )
    assert server_private is False
    assert count == len(rows)
    np.testing.assert_allclose(np.array(results), rows * 2.0 + 1.0, rtol=0, atol=CKKS_TOLERANCE)


async def test_a_private_context_travels_without_its_secret_key() -> None:
    ctx = make_context()
    assert ctx.is_private()

    async with channel_pair() as (a, b):
        both = asyncio.gather(send_context(a, ctx), recv_context(b))
        sent, public = await asyncio.wait_for(both, 10)
        await send_ckks_vector(a, ts.ckks_vector(ctx, [1.5, -2.5]))
        received = await asyncio.wait_for(recv_ckks_vector(b, public), 10)

    assert sent > 1_000_000
    assert not public.is_private()
    assert ctx.is_private()  # the sender's own context keeps its secret key
    with pytest.raises(ValueError, match="secret_key"):
        received.decrypt()  # the receiver got ciphertexts it cannot open
    np.testing.assert_allclose(received.decrypt(ctx.secret_key()), [1.5, -2.5], atol=CKKS_TOLERANCE)


async def test_single_vectors_and_a_galois_context_over_a_mesh_peer() -> None:
    """The diagnosis pattern: one vector out, one encrypted dot product back, 35 MB context."""
    ctx = make_context(galois=True)
    rng = np.random.default_rng()
    x, w = rng.uniform(-1, 1, 30), rng.uniform(-1, 1, 30)
    net = MemoryNetwork()

    async def run(me: str, peer: str) -> float | bool:
        async with Mesh(MeshConfig(me, ("client", "server")), net.transport(me)) as mesh:
            channel = MeshPeerChannel(mesh, peer, "he")
            if me == "client":
                await send_context(channel, ctx)
                await send_ckks_vector(channel, ts.ckks_vector(ctx, x.tolist()))
                return float((await recv_ckks_vector(channel, ctx)).decrypt()[0])
            public = await recv_context(channel)
            encrypted = await recv_ckks_vector(channel, public)
            await send_ckks_vector(channel, encrypted.dot(w.tolist()))
            return bool(public.is_private())

    score, server_private = await asyncio.wait_for(
        asyncio.gather(run("client", "server"), run("server", "client")), 60
    )
    assert server_private is False
    assert score == pytest.approx(float(x @ w), abs=1e-4)
