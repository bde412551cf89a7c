"""Bad input from the peer: each case ends in a typed qkdlink error, never in a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import tenseal as ts

from integrations.tenseal import (
    MeshPeerChannel,
    SenderAbortedError,
    recv_ckks_vector,
    recv_ckks_vectors,
    recv_context,
    send_ckks_vectors,
    send_context,
)
from integrations.tenseal._send import _send_object
from integrations.tenseal._wire import MAX_FRAGMENT, Header, Kind
from qkdlink.channel import Channel
from qkdlink.errors import (
    EndOfChannelError,
    LocalProtocolError,
    PartyDisconnectedError,
    QkdlinkError,
    RemoteProtocolError,
)
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig
from tests.integrations.tenseal._helpers import channel_pair, make_context

CTX = make_context()
VECTOR = ts.ckks_vector(CTX, [1.0, 2.0]).serialize()

Send = Callable[[Channel], Awaitable[None]]
Receive = Callable[[Channel], Awaitable[object]]


async def refusal(send: Send, receive: Receive) -> QkdlinkError:
    """Run `send` on one end and `receive` on the other; return the error `receive` raised.

    The 10 s bound turns a hang into a TimeoutError, which is not a QkdlinkError: the test fails.
    """
    async with channel_pair() as (a, b):
        sender = asyncio.ensure_future(send(a))
        try:
            with pytest.raises(QkdlinkError) as info:
                await asyncio.wait_for(receive(b), 10)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    return info.value


async def all_vectors(channel: Channel, **options: object) -> list[object]:
    return [v async for v in recv_ckks_vectors(channel, CTX, **options)]  # type: ignore[arg-type]


def raw(*messages: bytes) -> Send:
    """A sender of hand-made messages, which then stays silent with the channel open."""

    async def send(channel: Channel) -> None:
        for message in messages:
            await channel.send(message)
        await asyncio.Event().wait()

    return send


def header(kind: Kind, index: int, total: int, size: int = 1 << 20) -> bytes:
    return Header.for_object(kind, index, total, size).encode()


END = Header.marker(Kind.END, 1).encode()
END_OF_TWO = Header.marker(Kind.END, 2).encode()


@pytest.mark.parametrize(
    ("send", "receive", "match"),
    [
        pytest.param(
            raw(header(Kind.CONTEXT, 0, 1 << 50, MAX_FRAGMENT)),
            recv_context,  # allocating 1 PiB would raise MemoryError, not a QkdlinkError
            "limit is 1073741824",
            id="over-size-announcement",
        ),
        pytest.param(
            lambda ch: send_context(ch, CTX),
            lambda ch: recv_context(ch, max_size=1_000_000),
            "limit is 1000000",
            id="context-over-configured-limit",
        ),
        pytest.param(
            lambda ch: send_ckks_vectors(ch, [ts.ckks_vector(CTX, [1.0])]),
            lambda ch: all_vectors(ch, max_size=100_000),
            "limit is 100000",
            id="vector-over-configured-limit",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, 1000, 300), b"x" * 299),
            lambda ch: recv_ckks_vector(ch, CTX),
            "fragment 1/4 has 299 bytes, expected 300",
            id="short-fragment",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, 1000, 300), *[b"x" * 300] * 3, b"x" * 101),
            lambda ch: recv_ckks_vector(ch, CTX),
            "fragment 4/4 has 101 bytes, expected 100",
            id="long-last-fragment",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, len(VECTOR)), VECTOR, b"extra", END),
            all_vectors,
            "header, got 5 bytes",
            id="extra-fragment",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, len(VECTOR)), VECTOR),
            recv_context,
            "expected a TenSEAL CONTEXT, the peer sent a CKKS_VECTOR",
            id="vector-instead-of-context",
        ),
        pytest.param(
            lambda ch: send_context(ch, CTX),
            lambda ch: recv_ckks_vector(ch, CTX),
            "expected a TenSEAL CKKS_VECTOR, the peer sent a CONTEXT",
            id="context-instead-of-vector",
        ),
        pytest.param(
            raw(END),
            lambda ch: recv_ckks_vector(ch, CTX),
            "the peer sent an END",
            id="end-instead-of-single-vector",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 1, len(VECTOR)), VECTOR, END),
            all_vectors,
            "expected TenSEAL object 0, the peer sent object 1",
            id="stream-out-of-order",
        ),
        pytest.param(
            raw(*[header(Kind.CKKS_VECTOR, 0, len(VECTOR)), VECTOR] * 2, END),
            all_vectors,
            "expected TenSEAL object 1, the peer sent object 0",
            id="stream-repeats-an-object",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, len(VECTOR)), VECTOR, END_OF_TWO),
            all_vectors,
            "claiming 2 ciphertexts; 1 came",
            id="end-miscounts",
        ),
        pytest.param(
            raw(header(Kind.CONTEXT, 0, 10), b"not protob"),
            recv_context,
            "malformed TenSEAL context",
            id="malformed-context",
        ),
        pytest.param(
            raw(header(Kind.CKKS_VECTOR, 0, 10), b"not protob"),
            lambda ch: recv_ckks_vector(ch, CTX),
            "malformed CKKS vector",
            id="malformed-vector",
        ),
    ],
)
async def test_malformed_transfers_are_refused(send: Send, receive: Receive, match: str) -> None:
    error = await refusal(send, receive)
    assert isinstance(error, RemoteProtocolError)
    assert match in str(error)


async def test_a_context_holding_its_secret_key_is_refused() -> None:
    private = CTX.serialize(save_secret_key=True)

    async def send(channel: Channel) -> None:
        await _send_object(
            channel, Header.for_object(Kind.CONTEXT, 0, len(private), 1 << 20), private
        )

    assert ts.context_from(private).is_private()  # the blob really carries the secret key
    error = await refusal(send, recv_context)
    assert isinstance(error, RemoteProtocolError)
    assert "secret key" in str(error)


async def test_a_stream_cut_mid_object_is_a_protocol_error() -> None:
    async def send(channel: Channel) -> None:
        await channel.send(header(Kind.CONTEXT, 0, 3000, 1000))
        await channel.send(b"x" * 1000)
        await channel.aclose()

    error = await refusal(send, recv_context)
    assert isinstance(error, RemoteProtocolError)
    assert isinstance(error.__cause__, EndOfChannelError)


async def test_a_channel_closed_before_the_transfer_ends_cleanly() -> None:
    error = await refusal(lambda ch: ch.aclose(), recv_context)
    assert isinstance(error, EndOfChannelError)


async def test_a_silent_peer_times_out() -> None:
    send = raw(header(Kind.CONTEXT, 0, 3000, 1000), b"x" * 1000)
    error = await refusal(send, lambda ch: recv_context(ch, idle_timeout=0.2))
    assert isinstance(error, PartyDisconnectedError)
    assert error.party == "client"


async def test_a_silent_mesh_peer_times_out_on_the_mesh_timeout() -> None:
    net = MemoryNetwork()
    parties = ("client", "server")
    config = {p: MeshConfig(p, parties, recv_timeout=0.2) for p in parties}

    async def run(me: str, peer: str) -> None:
        async with Mesh(config[me], net.transport(me)) as mesh:
            channel = MeshPeerChannel(mesh, peer, "he")
            if me == "client":
                await channel.send(header(Kind.CONTEXT, 0, 3000, 1000))
                await asyncio.sleep(0.5)
            else:
                with pytest.raises(PartyDisconnectedError):
                    await recv_context(channel)  # bounded by the mesh's recv_timeout

    await asyncio.wait_for(asyncio.gather(run("client", "server"), run("server", "client")), 10)


async def test_without_idle_timeout_a_channel_gets_the_default_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("integrations.tenseal._recv.DEFAULT_IDLE_TIMEOUT", 0.2)
    error = await refusal(raw(header(Kind.CONTEXT, 0, 3000, 1000)), recv_context)
    assert isinstance(error, PartyDisconnectedError)


async def test_a_mesh_peer_keeps_its_own_looser_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("integrations.tenseal._recv.DEFAULT_IDLE_TIMEOUT", 0.05)
    net = MemoryNetwork()
    parties = ("client", "server")

    async def run(me: str, peer: str) -> bool:
        async with Mesh(MeshConfig(me, parties, recv_timeout=5), net.transport(me)) as mesh:
            channel = MeshPeerChannel(mesh, peer, "he")
            if me == "client":
                await asyncio.sleep(0.3)  # longer than the default bound, well within the mesh's
                await send_context(channel, CTX)
                return True
            return bool((await recv_context(channel)).is_public())

    both = asyncio.gather(run("client", "server"), run("server", "client"))
    assert list(await asyncio.wait_for(both, 10)) == [True, True]


async def test_a_sender_that_fails_mid_stream_says_so() -> None:
    class SourceBrokeError(Exception):
        pass

    def vectors() -> Iterator[ts.CKKSVector]:
        yield ts.ckks_vector(CTX, [1.0])
        raise SourceBrokeError

    received: list[object] = []
    failures: list[BaseException] = []

    async def send(channel: Channel) -> None:
        try:
            await send_ckks_vectors(channel, vectors())
        except SourceBrokeError as exc:
            failures.append(exc)

    async def receive(channel: Channel) -> None:
        async for vector in recv_ckks_vectors(channel, CTX):
            received.append(vector)

    error = await refusal(send, receive)
    assert isinstance(error, SenderAbortedError)
    assert len(received) == 1
    assert len(failures) == 1  # the sender's own error reached its caller


async def test_bad_local_arguments_are_refused() -> None:
    pulled: list[int] = []

    async def source() -> AsyncIterator[ts.CKKSVector]:
        pulled.append(0)
        yield ts.ckks_vector(CTX, [1.0])

    async with channel_pair() as (a, _):
        with pytest.raises(LocalProtocolError):
            await send_ckks_vectors(a, source(), fragment_size=0)
        assert pulled == []  # checked before anything was pulled
        with pytest.raises(LocalProtocolError):
            await send_context(a, CTX, fragment_size=MAX_FRAGMENT + 1)
        with pytest.raises(LocalProtocolError):
            await recv_context(a, max_size=0)
        with pytest.raises(LocalProtocolError):
            await recv_context(a, idle_timeout=0)
