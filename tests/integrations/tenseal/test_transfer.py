"""CKKS contexts and ciphertexts over a mesh peer channel: round trip, refusal of bad input."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import tenseal as ts

from integrations.tenseal import (
    MeshPeerChannel,
    recv_ckks_vector,
    recv_context,
    send_ckks_vector,
    send_context,
)
from qkdlink.errors import RemoteProtocolError
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig


def make_context() -> ts.Context:
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    return ctx


async def two_parties(client_body, server_body):  # type: ignore[no-untyped-def]
    net = MemoryNetwork()

    async def run(p: str, body):  # type: ignore[no-untyped-def]
        async with Mesh(MeshConfig(p, ("client", "server")), net.transport(p)) as mesh:
            peer = "server" if p == "client" else "client"
            return await body(MeshPeerChannel(mesh, peer, "he"))

    return await asyncio.wait_for(
        asyncio.gather(run("client", client_body), run("server", server_body)), 60
    )


async def test_encrypted_dot_product_round_trip() -> None:
    ctx = make_context()
    x = np.linspace(-1, 1, 30)
    w = np.linspace(0.5, -0.5, 30)

    async def client(ch: MeshPeerChannel) -> float:
        sent = await send_context(ch, ctx, chunk=64 * 1024)  # many chunks
        assert sent > 1_000_000
        await send_ckks_vector(ch, ts.ckks_vector(ctx, x.tolist()))
        return float((await recv_ckks_vector(ch, ctx)).decrypt()[0])

    async def server(ch: MeshPeerChannel) -> bool:
        public = await recv_context(ch)
        enc = await recv_ckks_vector(ch, public)
        await send_ckks_vector(ch, enc.dot(w.tolist()))
        return bool(public.is_private())

    score, server_private = await two_parties(client, server)
    assert abs(score - float(x @ w)) < 1e-3
    assert server_private is False


async def test_wrong_kind_and_garbage_are_refused() -> None:
    ctx = make_context()

    async def client(ch: MeshPeerChannel) -> None:
        await send_ckks_vector(ch, ts.ckks_vector(ctx, [1.0]))
        await ch.send(b"garbage")

    async def server(ch: MeshPeerChannel) -> int:
        with pytest.raises(RemoteProtocolError):
            await recv_context(ch)  # a vector arrived: its header is refused
        return 1

    assert (await two_parties(client, server))[1] == 1


async def test_context_over_a_quantum_keyed_channel() -> None:
    from qkdlink.channel import connect, serve
    from qkdlink.keyprovider import InMemoryKeyPool
    from qkdlink.transport import memory_transport_pair
    from tests.qkdlink.mesh._helpers import channel_configs

    configs = channel_configs(("client", "server"), InMemoryKeyPool())
    ctx = make_context()
    end_a, end_b = memory_transport_pair()

    async def client() -> float:
        async with connect(configs["client"]("server"), end_a) as channel:
            await send_context(channel, ctx)
            await send_ckks_vector(channel, ts.ckks_vector(ctx, [0.5, -2.0]))
            return float((await recv_ckks_vector(channel, ctx)).decrypt()[0])

    async def server() -> None:
        async with serve(configs["server"]("client"), end_b) as channel:
            public = await recv_context(channel)
            enc = await recv_ckks_vector(channel, public)
            await send_ckks_vector(channel, enc.dot([2.0, 1.0]))

    score, _ = await asyncio.wait_for(asyncio.gather(client(), server()), 60)
    assert abs(score - (0.5 * 2.0 - 2.0)) < 1e-3
