"""The mesh over in-memory and TCP links: messaging, collectives, faults, seeds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, cast

import numpy as np
import pytest

from qkdlink.errors import (
    ConfigurationError,
    KeyExhaustedError,
    LocalProtocolError,
    PartyDisconnectedError,
    RemoteProtocolError,
    UnexpectedMessageError,
)
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig, MeshTransport
from qkdlink.mesh._link import PlaintextTcpLink, PlaintextTcpTransport
from qkdlink.mesh._wire import Kind, encode_header
from tests.qkdlink.mesh._helpers import free_ports

PARTIES = ("a", "b", "c")
Body = Callable[[Mesh], Awaitable[Any]]


def memory_transports(parties: Sequence[str]) -> dict[str, MeshTransport]:
    net = MemoryNetwork()
    return {p: net.transport(p) for p in parties}


def tcp_transports(parties: Sequence[str]) -> dict[str, MeshTransport]:
    addresses = {
        p: ("127.0.0.1", port) for p, port in zip(parties, free_ports(len(parties)), strict=True)
    }
    return {p: PlaintextTcpTransport(p, addresses) for p in parties}


async def run_parties(
    body: Body,
    *,
    parties: Sequence[str] = PARTIES,
    transports: dict[str, MeshTransport] | None = None,
    pool: InMemoryKeyPool | None = None,
    **config: Any,
) -> dict[str, Any]:
    transports = transports or memory_transports(parties)

    async def one(p: str) -> Any:
        cfg = MeshConfig(p, tuple(parties), **config)
        keys = pool.provider(p) if pool else None
        async with Mesh(cfg, transports[p], keys=keys) as mesh:
            return await body(mesh)

    results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in parties)), 30)
    return dict(zip(parties, results, strict=True))


@pytest.mark.parametrize("kind", ["memory", "tcp"])
async def test_tagged_messages_never_mix(kind: str) -> None:
    async def body(mesh: Mesh) -> list[bytes]:
        if mesh.party == "a":
            await mesh.send("b", "step/2", b"second")
            await mesh.send("b", "step/1", b"first")
            return []
        if mesh.party == "b":
            # receive in the opposite order of sending, concurrently
            return list(await asyncio.gather(mesh.recv("a", "step/1"), mesh.recv("a", "step/2")))
        return []

    transports = tcp_transports(PARTIES) if kind == "tcp" else None
    results = await run_parties(body, transports=transports)
    assert results["b"] == [b"first", b"second"]


@pytest.mark.parametrize("kind", ["memory", "tcp"])
async def test_arrays_collectives_and_stats(kind: str) -> None:
    big = np.arange(300_000, dtype=np.uint64)  # over the inline limit

    async def body(mesh: Mesh) -> dict[str, Any]:
        me = PARTIES.index(mesh.party)
        own = np.full((4, 5), me, dtype=np.int32)
        gathered = await mesh.gather_arrays("g", own)
        everyone = await mesh.gather("names", mesh.party.encode())
        if mesh.party == "a":
            await mesh.broadcast("hello", b"hi")
            await mesh.send_array("b", "big", big)
            got_big = None
        else:
            assert await mesh.recv("a", "hello") == b"hi"
            got_big = (
                await mesh.recv_array("a", "big", dtype=np.uint64) if mesh.party == "b" else None
            )
        await mesh.barrier()
        await mesh.barrier()
        return {"gathered": gathered, "everyone": everyone, "big": got_big, "stats": mesh.stats()}

    transports = tcp_transports(PARTIES) if kind == "tcp" else None
    results = await run_parties(body, transports=transports)
    for p in PARTIES:
        g = results[p]["gathered"]
        assert [int(g[q][0, 0]) for q in PARTIES] == [0, 1, 2]
        assert results[p]["everyone"] == {q: q.encode() for q in PARTIES}
    assert np.array_equal(results["b"]["big"], big)
    a_to_b = results["a"]["stats"]["b"]
    b_from_a = results["b"]["stats"]["a"]
    assert a_to_b.bytes_sent == b_from_a.bytes_received
    assert a_to_b.bytes_sent > big.nbytes
    assert a_to_b.messages_sent == b_from_a.messages_received


async def test_disconnect_mid_protocol_names_the_party() -> None:
    waiting = asyncio.Event()

    async def body(mesh: Mesh) -> str:
        if mesh.party == "c":
            await waiting.wait()
            await mesh.send("a", "last", b"1")
            return "left"  # leaves: its links close
        if mesh.party == "a":
            pending = asyncio.create_task(mesh.recv("c", "two"))
            await asyncio.sleep(0)  # the receive waits when c leaves
            waiting.set()
            with pytest.raises(PartyDisconnectedError) as info:
                # Bounded far below recv_timeout: the close must be noticed, not timed out.
                await asyncio.wait_for(pending, 5)
            assert await mesh.recv("c", "last") == b"1"  # sent before the close: delivered
            with pytest.raises(PartyDisconnectedError):
                await asyncio.wait_for(mesh.recv("c", "three"), 5)  # and any later receive
            return info.value.party
        return "b"

    results = await run_parties(body, recv_timeout=30)
    assert results["a"] == "c"


async def test_silent_party_times_out() -> None:
    async def body(mesh: Mesh) -> str:
        if mesh.party == "a":
            with pytest.raises(PartyDisconnectedError, match="within") as info:
                await mesh.recv("b", "never")
            return info.value.party
        await asyncio.sleep(1.0)  # alive but silent for longer than a's recv_timeout
        return ""

    results = await run_parties(body, recv_timeout=0.3)
    assert results["a"] == "b"


async def test_connect_timeout_names_the_missing_party() -> None:
    net = MemoryNetwork()
    cfg = MeshConfig("a", PARTIES, connect_timeout=0.3, retry_interval=0.05)
    with pytest.raises(PartyDisconnectedError) as info:
        async with Mesh(cfg, net.transport("a")):
            pass
    assert info.value.party in {"b", "c"}


async def test_connect_with_retry_over_tcp() -> None:
    transports = tcp_transports(PARTIES)

    async def late(p: str, delay: float) -> bytes:
        await asyncio.sleep(delay)
        async with Mesh(MeshConfig(p, PARTIES), transports[p]) as mesh:
            got = await mesh.gather("x", p.encode())
            return b"".join(got.values())

    # the highest-ranked party listens last: the others retry their dials until it is up
    results = await asyncio.wait_for(
        asyncio.gather(late("a", 0), late("b", 0.1), late("c", 0.5)), 20
    )
    assert results == [b"abc"] * 3


async def test_wrong_dtype_shape_kind_are_unexpected() -> None:
    async def body(mesh: Mesh) -> int:
        if mesh.party == "a":
            await mesh.send_array("b", "x", np.zeros(3, dtype=np.float32))
            await mesh.send_array("b", "y", np.zeros(3, dtype=np.uint64))
            await mesh.send("b", "z", b"not an array")
            await mesh.send_array("b", "w", np.zeros(2, dtype=np.uint8))
            return 0
        if mesh.party == "b":
            with pytest.raises(UnexpectedMessageError):
                await mesh.recv_array("a", "x", dtype=np.uint64)
            with pytest.raises(UnexpectedMessageError):
                await mesh.recv_array("a", "y", shape=(4,))
            with pytest.raises(UnexpectedMessageError):
                await mesh.recv_array("a", "z")
            with pytest.raises(UnexpectedMessageError):
                await mesh.recv("a", "w")
            with pytest.raises(LocalProtocolError):
                await mesh.recv("a", "w")  # a tag is received once
            return 4
        return 0

    assert (await run_parties(body))["b"] == 4


async def test_unknown_and_duplicate_tags_are_refused() -> None:
    async def body(mesh: Mesh) -> str:
        if mesh.party == "a":
            await mesh.send("b", "bogus/1", b"?")
            await mesh.send("c", "ok/1", b"x")
            # A repeat is refused at the sender, before it could break the link with c.
            with pytest.raises(LocalProtocolError, match="already sent"):
                await mesh.send("c", "ok/1", b"again")
            await mesh.send("c", "ok/2", b"still up")
            return ""
        if mesh.party == "b":
            with pytest.raises(UnexpectedMessageError, match="unknown tag"):
                await mesh.recv("a", "ok/2")
            return "refused"
        assert await mesh.recv("a", "ok/1") == b"x"
        assert await mesh.recv("a", "ok/2") == b"still up"
        return "link kept"

    transports = memory_transports(PARTIES)

    async def one(p: str) -> str:
        async with Mesh(MeshConfig(p, PARTIES), transports[p], tag_prefixes=["ok/"]) as mesh:
            return await body(mesh)

    results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in PARTIES)), 10)
    assert results[1:] == ["refused", "link kept"]


_HELLO_FROM_A = b'{"mesh": "qkdlink-mesh", "party": "a"}'


def _mesh_b_with_raw_a(records: Sequence[bytes]) -> tuple[Mesh, Coroutine[Any, Any, None]]:
    """Party b's mesh over TCP, and a hostile party a: it dials b on the raw link, behaves
    during the hello, then sends `records` as they are (bypassing its own mesh's checks)."""
    ports = free_ports(2)
    addresses = {"a": ("127.0.0.1", ports[0]), "b": ("127.0.0.1", ports[1])}
    mesh = Mesh(MeshConfig("b", ("a", "b")), PlaintextTcpTransport("b", addresses))

    async def hostile_a() -> None:
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection(*addresses["b"])
                break
            except OSError:
                await asyncio.sleep(0.05)
        link = PlaintextTcpLink(reader, writer)
        hello = encode_header(Kind.BYTES, "__hello__", len(_HELLO_FROM_A), inline=_HELLO_FROM_A)
        await link.send(hello)
        await link.recv()
        for record in records:
            await link.send(record)
        await asyncio.sleep(0.5)
        await link.aclose()

    return mesh, hostile_a()


async def test_tag_repeated_by_a_hostile_peer_is_refused() -> None:
    twice = [encode_header(Kind.BYTES, "t/1", len(b), inline=b) for b in (b"x", b"again")]
    mesh, hostile_a = _mesh_b_with_raw_a(twice)
    task = asyncio.create_task(hostile_a)
    async with mesh:
        assert await mesh.recv("a", "t/1") == b"x"
        with pytest.raises(UnexpectedMessageError, match="twice"):
            await mesh.recv("a", "t/2")
    await task


async def test_garbage_from_a_peer_is_a_remote_protocol_error() -> None:
    mesh, hostile_a = _mesh_b_with_raw_a([b"\x01\x09garbage"])
    task = asyncio.create_task(hostile_a)
    async with mesh:
        with pytest.raises(RemoteProtocolError):
            await mesh.recv("a", "anything")
    await task


async def test_seeds_over_the_mesh() -> None:
    pool = InMemoryKeyPool()

    async def body(mesh: Mesh) -> dict[str, Any]:
        przs = await mesh.przs("round")
        rep = await mesh.replicated("rep")
        coins = await mesh.common_coins("c")
        prss = await mesh.prss("p", threshold=1)
        return {
            "zero": przs.zero_share(1000),
            "pair": rep.random_pair(10),
            "coins": coins.ring(8),
            "prss": prss.share(5, 2**31 - 1),
            "ledger": mesh.ledger.by_purpose(),
            "stats": mesh.stats(),
        }

    r = await run_parties(body, pool=pool)
    assert not (r["a"]["zero"] + r["b"]["zero"] + r["c"]["zero"]).any()
    assert np.array_equal(r["a"]["pair"][1], r["b"]["pair"][0])
    assert np.array_equal(r["a"]["coins"], r["c"]["coins"])
    # a is master towards b and c: it consumed keys for przs, rep, coins, prss
    assert r["a"]["ledger"]["przs/round"] == 2
    assert sum(s.seed_keys for s in r["a"]["stats"].values()) == sum(r["a"]["ledger"].values())
    assert pool.delivered("a", "b") >= 4


async def test_seed_request_with_empty_pool_fails_promptly_on_both_sides() -> None:
    pool = InMemoryKeyPool(capacity=0)

    async def body(mesh: Mesh) -> str:
        if mesh.party == "c":
            await mesh.barrier()
            return ""
        peer = "b" if mesh.party == "a" else "a"
        with pytest.raises(KeyExhaustedError) as info:
            # Bounded well below recv_timeout: b must hear a's refusal, not wait for a key ID
            # (a stays connected until the barrier, so a link close cannot end b's wait).
            await asyncio.wait_for(mesh.pair_seed(peer, "x"), 5)
        assert len(mesh.ledger) == 0  # no seed from anything else than a QKD key
        await mesh.barrier()
        return str(info.value)

    results = await run_parties(body, pool=pool, recv_timeout=30)
    assert "party 'a'" in results["b"]  # b is told who refused
    assert pool.delivered("a", "b") == 0


@pytest.mark.parametrize("collective", ["common_coins", "przs", "prss"])
async def test_collective_seeds_with_empty_pool_fail_promptly_everywhere(collective: str) -> None:
    pool = InMemoryKeyPool(capacity=0)

    async def body(mesh: Mesh) -> str:
        seeds: Awaitable[object] = (
            mesh.prss("p", threshold=1) if collective == "prss" else getattr(mesh, collective)("p")
        )
        with pytest.raises(KeyExhaustedError) as info:
            await asyncio.wait_for(seeds, 5)
        await mesh.barrier()  # everyone stays connected until all have failed
        return type(info.value).__name__

    results = await run_parties(body, pool=pool, recv_timeout=30)
    assert set(results.values()) == {"KeyExhaustedError"}


async def test_seed_without_provider_is_a_configuration_error() -> None:
    async def body(mesh: Mesh) -> None:
        with pytest.raises(ConfigurationError):
            await mesh.pair_seed(mesh.peers[0], "x")

    await run_parties(body)


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError):
        MeshConfig("a", ("a",))
    with pytest.raises(ConfigurationError):
        MeshConfig("z", ("a", "b"))
    with pytest.raises(ConfigurationError):
        MeshConfig("a", ("a", "a"))
    with pytest.raises(ConfigurationError):
        MeshConfig("a", ("a", "b"), recv_timeout=0)
    with pytest.raises(ConfigurationError):
        MeshConfig("a", ("a", "b"), send_timeout=0)
    assert MeshConfig("b", ("a", "b", "c")).peers == ("a", "c")


class FailingLink:
    """A link whose receive fails with a non-channel error (as an authentication failure would)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fail = asyncio.Event()

    async def send(self, data: bytes | memoryview) -> None:
        await self.inner.send(data)

    async def recv(self) -> bytes:
        if self.fail.is_set():
            from qkdlink.errors import AuthenticationError

            raise AuthenticationError("record failed authentication")
        return await self.inner.recv()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_any_link_failure_names_the_party_at_once() -> None:
    net = MemoryNetwork()
    links: list[FailingLink] = []

    class Wrapping:
        def __init__(self, party: str) -> None:
            self.inner = net.transport(party)

        async def listen(self, handler: Any) -> None:
            async def wrap(link: Any) -> None:
                wrapped = FailingLink(link)
                links.append(wrapped)
                await handler(wrapped)

            await self.inner.listen(wrap)

        async def dial(self, peer: str) -> Any:
            return await self.inner.dial(peer)

        async def aclose(self) -> None:
            await self.inner.aclose()

    async def one(p: str) -> str:
        async with Mesh(MeshConfig(p, ("a", "b"), recv_timeout=30), Wrapping(p)) as mesh:
            if p == "b":
                links[0].fail.set()  # b's link from a fails on its next receive
                with pytest.raises(PartyDisconnectedError, match="AuthenticationError") as info:
                    await mesh.recv("a", "x")
                return info.value.party
            await mesh.send("b", "ping", b"")
            return ""

    results = await asyncio.wait_for(asyncio.gather(one("a"), one("b")), 10)
    assert results[1] == "a"


def test_recent_tags_window_is_bounded() -> None:
    from qkdlink.mesh._mesh import _RecentTags

    recent = _RecentTags()
    for k in range(10):
        recent.add(f"t/{k}", limit=4)
    assert "t/9" in recent
    assert "t/6" in recent
    assert "t/5" not in recent


async def test_party_of_another_mesh_is_refused() -> None:
    net = MemoryNetwork()

    async def one(p: str, mesh_id: str) -> None:
        cfg = MeshConfig(p, ("a", "b"), mesh_id=mesh_id, connect_timeout=0.5, retry_interval=0.05)
        async with Mesh(cfg, net.transport(p)):
            pass

    results = await asyncio.gather(one("a", "m1"), one("b", "m2"), return_exceptions=True)
    assert all(isinstance(r, PartyDisconnectedError) for r in results)


async def test_peer_that_stops_reading_is_named_within_send_timeout() -> None:
    ports = free_ports(2)
    addresses = {"a": ("127.0.0.1", ports[0]), "b": ("127.0.0.1", ports[1])}
    stop = asyncio.Event()

    async def stalled_b(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # b answers the hello, then never reads again: a's sends fill the socket buffers.
        link = PlaintextTcpLink(reader, writer)
        await link.recv()
        hello = b'{"mesh": "qkdlink-mesh", "party": "b"}'
        await link.send(encode_header(Kind.BYTES, "__hello__", len(hello), inline=hello))
        await stop.wait()
        await link.aclose()

    server = await asyncio.start_server(stalled_b, *addresses["b"])
    config = MeshConfig("a", ("a", "b"), send_timeout=0.5)
    try:
        async with Mesh(config, PlaintextTcpTransport("a", addresses)) as mesh:
            big = np.zeros(8 << 20, dtype=np.uint8)
            with pytest.raises(PartyDisconnectedError) as info:
                await asyncio.wait_for(mesh.send_array("b", "big/0", big), 10)
            assert info.value.party == "b"
            # The link is gone for good: the next send fails at once, not after another wait.
            with pytest.raises(PartyDisconnectedError):
                await asyncio.wait_for(mesh.send("b", "small/0", b"x"), 0.2)
    finally:
        stop.set()
        server.close()
        await server.wait_closed()


async def test_close_is_bounded_when_a_link_will_not_close() -> None:
    net = MemoryNetwork()
    stuck: list[Any] = []

    class StuckClose:
        """A link whose close never returns (a transport flushing to a peer that stopped)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send(self, data: bytes | memoryview) -> None:
            await self.inner.send(data)

        async def recv(self) -> bytes:
            return cast(bytes, await self.inner.recv())

        async def aclose(self) -> None:
            stuck.append(self)
            await asyncio.Event().wait()

    class Dialing:
        def __init__(self, party: str) -> None:
            self.inner = net.transport(party)

        async def listen(self, handler: Any) -> None:
            await self.inner.listen(handler)

        async def dial(self, peer: str) -> Any:
            return StuckClose(await self.inner.dial(peer))

        async def aclose(self) -> None:
            await self.inner.aclose()

    async def one(p: str) -> None:
        config = MeshConfig(p, ("a", "b"), send_timeout=0.3)
        async with Mesh(config, Dialing(p) if p == "a" else net.transport(p)) as mesh:
            await mesh.barrier()

    await asyncio.wait_for(asyncio.gather(one("a"), one("b")), 5)
    assert len(stuck) == 1  # a's link to b was asked to close, and a still got out


async def test_hello_must_name_the_party_the_link_authenticated() -> None:
    net = MemoryNetwork()

    class Authenticated:
        """A link that authenticated party `peer_id` (as a Channel does)."""

        def __init__(self, inner: Any, peer_id: str) -> None:
            self.inner = inner
            self.peer_id = peer_id

        async def send(self, data: bytes | memoryview) -> None:
            await self.inner.send(data)

        async def recv(self) -> bytes:
            return cast(bytes, await self.inner.recv())

        async def aclose(self) -> None:
            await self.inner.aclose()

    class ListensAsIfFromC:
        """b's transport: every accepted link says it authenticated c, whoever dialled."""

        def __init__(self) -> None:
            self.inner = net.transport("b")

        async def listen(self, handler: Any) -> None:
            async def wrap(link: Any) -> None:
                await handler(Authenticated(link, "c"))

            await self.inner.listen(wrap)

        async def dial(self, peer: str) -> Any:
            return await self.inner.dial(peer)

        async def aclose(self) -> None:
            await self.inner.aclose()

    parties = ("a", "b")  # c authenticated, but claims to be a

    async def start(p: str, transport: Any) -> str:
        config = MeshConfig(p, parties, connect_timeout=1.0)
        try:
            async with Mesh(config, transport):
                return "connected"
        except PartyDisconnectedError as exc:
            return exc.party

    # The hello says "a" on a link that authenticated c: b refuses it, so neither a nor b ever
    # counts the other as connected (before, b took c's authenticated link for a's).
    a, b = await asyncio.wait_for(
        asyncio.gather(start("a", net.transport("a")), start("b", ListensAsIfFromC())), 10
    )
    assert a == "b"
    assert b == "a"


async def test_failed_start_leaves_no_dial_running() -> None:
    from qkdlink.errors import HandshakeError
    from qkdlink.mesh._wire import Kind, encode_header

    net = MemoryNetwork()
    dialled: list[Any] = []

    async def c_answers(link: Any) -> None:
        await link.recv()
        hello = b'{"mesh": "qkdlink-mesh", "party": "c"}'
        await link.send(encode_header(Kind.BYTES, "__hello__", len(hello), inline=hello))

    net.listeners["c"] = c_answers

    class BadToBSlowToC:
        def __init__(self) -> None:
            self.inner = net.transport("a")

        async def listen(self, handler: Any) -> None:
            await self.inner.listen(handler)

        async def dial(self, peer: str) -> Any:
            if peer == "b":
                raise HandshakeError("b failed authentication")
            await asyncio.sleep(0.3)
            link = await self.inner.dial(peer)
            dialled.append(link)
            return link

        async def aclose(self) -> None:
            await self.inner.aclose()

    mesh = Mesh(MeshConfig("a", ("a", "b", "c")), BadToBSlowToC())
    with pytest.raises(HandshakeError):
        await mesh.start()
    await asyncio.sleep(0.6)  # the slow dial to c would have finished by now
    assert dialled == []
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("mesh-a-read-")]
