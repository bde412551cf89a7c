"""Clean shutdown of a TCP mesh: prompt, leaves nothing behind, and peers hear who left."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping

import numpy as np
import psutil
import pytest

from qkdlink.errors import ChannelClosedError, PartyDisconnectedError
from qkdlink.mesh import Mesh, MeshConfig
from qkdlink.mesh._link import PlaintextTcpTransport
from tests.qkdlink.mesh._helpers import free_ports

PARTIES = ("a", "b", "c")
# Far longer than any bound below: a close or an error that waited for one of them would show.
PATIENT = {"recv_timeout": 30.0, "send_timeout": 30.0}
BOUND_S = 5.0
"""Hang guard: every awaited step here must finish well inside this (no timing is asserted)."""

Addresses = Mapping[str, tuple[str, int]]


def tcp_addresses() -> dict[str, tuple[str, int]]:
    ports = free_ports(len(PARTIES))
    return {p: ("127.0.0.1", port) for p, port in zip(PARTIES, ports, strict=True)}


def mesh_of(party: str, addresses: Addresses) -> Mesh:
    return Mesh(MeshConfig(party, PARTIES, **PATIENT), PlaintextTcpTransport(party, addresses))


async def exchange(mesh: Mesh) -> dict[str, bytes]:
    """Some traffic in every direction: pairwise bytes, an all-to-all array, a barrier."""
    me = mesh.party
    await asyncio.gather(*(mesh.send(p, f"hi/{me}", me.encode()) for p in mesh.peers))
    got = dict(zip(mesh.peers, [await mesh.recv(p, f"hi/{p}") for p in mesh.peers], strict=True))
    arrays = await mesh.gather_arrays("arr", np.full(3, PARTIES.index(me), dtype=np.int64))
    assert [int(arrays[p][0]) for p in PARTIES] == [0, 1, 2]
    await mesh.barrier()
    return got


def our_tcp_sockets(addresses: Addresses) -> list[object]:
    """This process's TCP sockets on the mesh's ports (listening or connected)."""
    ports = {port for _, port in addresses.values()}
    return [
        c
        for c in psutil.Process().net_connections(kind="tcp")
        if any(end and end.port in ports for end in (c.laddr, c.raddr))
    ]


def listen_again(addresses: Addresses) -> None:
    """Bind and listen on every party's port (fails while a mesh still listens there)."""
    for host, port in addresses.values():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen()


class Recorder(logging.Handler):
    """Every warning or error logged while installed (asyncio's own reports included)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_all_parties_close_cleanly_and_leave_nothing_behind() -> None:
    addresses = tcp_addresses()
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    before = asyncio.all_tasks()
    try:

        async def one(p: str) -> dict[str, bytes]:
            async with mesh_of(p, addresses) as mesh:
                got = await exchange(mesh)
            return got

        # every party returns normally: a clean close of all reports no error to anyone
        results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), BOUND_S)
        await asyncio.sleep(0)  # let callbacks scheduled by the closes run
        left = {t for t in asyncio.all_tasks() - before if not t.done()}
        assert left == set(), sorted(t.get_name() for t in left)
        assert our_tcp_sockets(addresses) == []
        listen_again(addresses)
        # ... and the same parties can run a mesh on the same ports again
        again = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), BOUND_S * 2)
    finally:
        logging.getLogger().removeHandler(recorder)
        loop.set_exception_handler(None)
    for p in PARTIES:
        assert results[PARTIES.index(p)] == {q: q.encode() for q in PARTIES if q != p}
    assert again == results
    assert loop_errors == []
    assert [r.getMessage() for r in recorder.records] == []


async def test_use_after_close_is_a_typed_error() -> None:
    addresses = tcp_addresses()
    waiting: dict[str, asyncio.Task[bytes]] = {}

    async def one(p: str) -> Mesh:
        async with mesh_of(p, addresses) as mesh:
            await exchange(mesh)
            # a receive still waiting in another task when the mesh closes ends at once
            waiting[p] = asyncio.create_task(mesh.recv(mesh.peers[0], "never"))
            await asyncio.sleep(0)
        return mesh

    meshes = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), BOUND_S)
    for task in waiting.values():
        with pytest.raises(ChannelClosedError):
            await asyncio.wait_for(task, BOUND_S)
    mesh = meshes[0]
    peer = mesh.peers[0]
    with pytest.raises(ChannelClosedError):
        await mesh.recv(peer, "late/1")
    with pytest.raises(ChannelClosedError):
        await mesh.send(peer, "late/2", b"x")
    with pytest.raises(ChannelClosedError):
        await mesh.recv_array(peer, "late/3")
    with pytest.raises(ChannelClosedError):
        await mesh.send_array(peer, "late/4", np.zeros(2))
    with pytest.raises(ChannelClosedError):
        await mesh.barrier()
    await mesh.aclose()  # closing again is allowed and does nothing


async def test_a_party_closing_early_is_named_to_the_others_promptly() -> None:
    addresses = tcp_addresses()
    c_closed = asyncio.Event()

    async def one(p: str) -> str:
        async with mesh_of(p, addresses) as mesh:
            await exchange(mesh)
            if p == "c":
                await mesh.send("a", "bye", b"last")
                return "closed"  # c leaves cleanly while a and b stay
            # one receive from c already waiting when c closes, one started after
            pending = asyncio.create_task(mesh.recv("c", "never/1"))
            await c_closed.wait()
            with pytest.raises(PartyDisconnectedError) as early:
                await asyncio.wait_for(pending, BOUND_S)
            if p == "a":  # sent before c closed: still delivered
                assert await mesh.recv("c", "bye") == b"last"
            with pytest.raises(PartyDisconnectedError) as late:
                await asyncio.wait_for(mesh.recv("c", "never/2"), BOUND_S)
            with pytest.raises(PartyDisconnectedError):
                await asyncio.wait_for(mesh.send("c", "after", b"x"), BOUND_S)
            # a and b still talk to each other
            other = "b" if p == "a" else "a"
            await mesh.send(other, "still", p.encode())
            assert await asyncio.wait_for(mesh.recv(other, "still"), BOUND_S) == other.encode()
            return f"{early.value.party}{late.value.party}"

    async def c_then_signal() -> str:
        result = await one("c")
        c_closed.set()
        return result

    results = await asyncio.wait_for(
        asyncio.gather(one("a"), one("b"), c_then_signal()), BOUND_S * 2
    )
    assert results == ["cc", "cc", "closed"]
