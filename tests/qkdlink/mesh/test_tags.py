"""Unknown tags are typed errors naming the party and tags, never a claimed disconnect."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from qkdlink.errors import (
    ChannelClosedError,
    PartyDisconnectedError,
    UnexpectedMessageError,
    UnknownTagError,
)
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig

PARTIES = ("a", "b", "c")
SECRET = b"payload-that-must-not-be-logged"
BOUND_S = 10.0
"""Hang guard only (no timing is asserted)."""


async def run(
    body: Callable[[Mesh], Awaitable[Any]],
    *,
    parties: Sequence[str] = PARTIES,
    tag_prefixes: Sequence[str] = (),
    **config: Any,
) -> list[Any]:
    """Every party runs `body` in its own mesh; a party's exception is its result."""
    net = MemoryNetwork()

    async def one(p: str) -> Any:
        cfg = MeshConfig(p, tuple(parties), **config)
        async with Mesh(cfg, net.transport(p), tag_prefixes=tag_prefixes) as mesh:
            return await body(mesh)

    return await asyncio.wait_for(
        asyncio.gather(*(one(p) for p in parties), return_exceptions=True), BOUND_S
    )


async def test_receive_timeout_with_unclaimed_messages_names_party_and_tags() -> None:
    done = asyncio.Event()

    async def body(mesh: Mesh) -> Any:
        if mesh.party == "a":
            await mesh.send("b", "step/typo", SECRET)  # b waits for step/1: a protocol mismatch
            await done.wait()  # a stays alive and connected
            return None
        if mesh.party == "b":
            try:
                with pytest.raises(UnknownTagError) as info:
                    await mesh.recv("a", "step/1")
            finally:
                done.set()
            return info.value
        return None

    _, error, _ = await run(body, recv_timeout=0.3)
    assert isinstance(error, UnexpectedMessageError)
    assert not isinstance(error, PartyDisconnectedError)
    assert error.party == "a"
    assert error.tags == ("step/typo",)
    assert "'step/1'" in str(error)
    assert "'step/typo'" in str(error)
    assert SECRET.decode() not in str(error)


async def test_silent_peer_is_still_a_disconnect_even_if_it_talks_to_others() -> None:
    done = asyncio.Event()

    async def body(mesh: Mesh) -> Any:
        if mesh.party == "a":
            await mesh.send("c", "x/1", b"to c only")  # a is alive, but sends b nothing
            await done.wait()
            return None
        if mesh.party == "b":
            try:
                with pytest.raises(PartyDisconnectedError) as info:
                    await mesh.recv("a", "x/1")
            finally:
                done.set()
            return info.value.party
        assert await mesh.recv("a", "x/1") == b"to c only"
        return None

    assert (await run(body, recv_timeout=0.3))[1] == "a"


async def test_many_unclaimed_tags_are_named_a_few_and_counted() -> None:
    done = asyncio.Event()

    async def body(mesh: Mesh) -> Any:
        if mesh.party == "a":
            for k in range(8):
                await mesh.send("b", f"ahead/{k}", b"")
            await done.wait()
            return None
        try:
            with pytest.raises(UnknownTagError) as info:
                await mesh.recv("a", "now")
        finally:
            done.set()
        return info.value

    _, error = await run(body, parties=("a", "b"), recv_timeout=0.3)
    assert error.tags == tuple(f"ahead/{k}" for k in range(5))
    assert "8 message(s)" in str(error)
    assert "and 3 more" in str(error)


async def test_flood_of_unclaimed_messages_fails_at_once_with_the_tags() -> None:
    async def body(mesh: Mesh) -> Any:
        if mesh.party == "a":
            for k in range(4):
                await mesh.send("b", f"flood/{k}", b"")
            return None
        # recv_timeout is long: the refusal comes from the flood bound, not from a timeout
        with pytest.raises(UnknownTagError, match="max_pending") as info:
            await mesh.recv("a", "wanted")
        return info.value

    _, error = await run(body, parties=("a", "b"), max_pending=3, recv_timeout=30)
    assert error.party == "a"
    assert error.tags == ("flood/0", "flood/1", "flood/2")


async def test_tag_prefixes_refuse_an_unknown_tag_on_arrival() -> None:
    async def body(mesh: Mesh) -> Any:
        if mesh.party == "a":
            await mesh.send("b", "ok/1", b"fine")
            await mesh.send("b", "rogue/1", SECRET)
            return None
        assert await mesh.recv("a", "ok/1") == b"fine"
        with pytest.raises(UnknownTagError) as info:
            await mesh.recv("a", "ok/2")  # fails at once (recv_timeout is long)
        return info.value

    _, error = await run(body, parties=("a", "b"), tag_prefixes=["ok/"], recv_timeout=30)
    assert error.party == "a"
    assert error.tags == ("rogue/1",)
    assert SECRET.decode() not in str(error)


async def test_clean_exit_with_unclaimed_messages_raises_after_closing() -> None:
    async def body(mesh: Mesh) -> Mesh:
        if mesh.party == "c":
            await mesh.send("a", "result/1", SECRET)  # the protocol at a never reads it
            await mesh.send("a", "result/2", SECRET)
        await mesh.barrier()  # everything c sent before it has arrived at a
        return mesh

    a, b, c = await run(body)
    assert isinstance(a, UnknownTagError)
    assert a.party == "c"
    assert a.tags == ("result/1", "result/2")
    assert SECRET.decode() not in str(a)
    assert isinstance(b, Mesh)  # nothing left over there
    assert isinstance(c, Mesh)


async def test_unclaimed_messages_never_mask_the_blocks_own_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BoomError(Exception):
        pass

    async def body(mesh: Mesh) -> None:
        if mesh.party == "b":
            await mesh.send("a", "late/1", SECRET)
        await mesh.barrier()
        if mesh.party == "a":
            raise BoomError

    with caplog.at_level(logging.WARNING, logger="qkdlink.mesh"):
        a, b = await run(body, parties=("a", "b"))
    assert isinstance(a, BoomError)
    assert b is None
    logged = [r.getMessage() for r in caplog.records if r.name == "qkdlink.mesh"]
    assert len(logged) == 1
    assert "'late/1'" in logged[0]
    assert "'b'" in logged[0]
    assert SECRET.decode() not in logged[0]


async def test_aclose_logs_unclaimed_messages_instead_of_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    net = MemoryNetwork()
    meshes = [Mesh(MeshConfig(p, ("a", "b")), net.transport(p)) for p in ("a", "b")]
    await asyncio.wait_for(asyncio.gather(*(m.start() for m in meshes)), BOUND_S)
    a, b = meshes
    await b.send("a", "never-read", SECRET)
    await asyncio.wait_for(asyncio.gather(a.barrier(), b.barrier()), BOUND_S)
    with caplog.at_level(logging.WARNING, logger="qkdlink.mesh"):
        await a.aclose()
        await b.aclose()
    logged = [r.getMessage() for r in caplog.records if r.name == "qkdlink.mesh"]
    assert len(logged) == 1
    assert "'never-read'" in logged[0]
    with pytest.raises(ChannelClosedError):
        await a.recv("b", "never-read")


async def test_leftovers_of_a_peer_whose_failure_was_seen_are_not_raised_again() -> None:
    async def body(mesh: Mesh) -> str:
        if mesh.party == "c":
            await mesh.send("a", "extra/1", b"")
            await mesh.barrier()
            return "left"  # leaves: a sees its link close
        await mesh.barrier()
        if mesh.party == "a":
            with pytest.raises(PartyDisconnectedError):
                await mesh.recv("c", "never")  # a learns c is gone and ends normally
        return mesh.party

    assert await run(body, recv_timeout=20) == ["a", "b", "left"]
