"""Hostile peers and networks against the public Channel: each gets its typed error, nothing leaks.

Every case checks that the channel ends (typed error, `__cause__` naming the reason) and that the
application receives nothing the genuine peer did not send.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from protocols.channel import DowngradeError
from protocols.errors import AuthenticationError, RemoteProtocolError
from qkdlink.channel import Channel, connect, serve
from qkdlink.errors import (
    BrokenChannelError,
    ChannelClosedError,
    HandshakeError,
    KeyIdError,
    RekeyError,
)
from qkdlink.keyprovider import InMemoryKeyPool, KeyProvider
from qkdlink.transport import Transport, memory_transport_pair
from tests.qkdlink.channel._helpers import NODES, config_pair, open_pair, x25519_keypair


class Tap:
    """A transport wrapper that lets a test rewrite or record frames going out."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.sent: list[bytes] = []
        self.rewrite: object = None

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        data = bytes(frame)
        self.sent.append(data)
        if callable(self.rewrite):
            data = self.rewrite(data)
        await self.inner.send(data)

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _expect_handshake_failure(  # type: ignore[no-untyped-def]
    a_config, b_config, ta=None, tb=None, *, initiator_cause: type | None = None
) -> HandshakeError:
    ta, tb = (ta, tb) if ta else memory_transport_pair()
    results = await asyncio.wait_for(
        asyncio.gather(connect(a_config, ta), serve(b_config, tb), return_exceptions=True), 10
    )
    for r in results:
        if isinstance(r, Channel):
            await r.aclose()
    server_error = results[1]
    assert isinstance(server_error, HandshakeError), results
    assert isinstance(results[0], HandshakeError), results
    if initiator_cause is not None:
        assert isinstance(results[0].__cause__, initiator_cause)
    return server_error


async def test_tampered_record_breaks_the_channel_with_authentication_cause() -> None:
    ta, tb = memory_transport_pair()
    tap = Tap(ta)
    a, b = await open_pair(*config_pair(), transports=(tap, tb))
    async with a, b:
        await a.send(b"genuine")
        assert await b.recv() == b"genuine"

        def flip(data: bytes) -> bytes:
            return data[:-1] + bytes([data[-1] ^ 1])

        tap.rewrite = flip
        await a.send(b"tampered in flight")
        with pytest.raises(BrokenChannelError) as info:
            await b.recv()
        assert isinstance(info.value.__cause__, AuthenticationError)
        with pytest.raises(BrokenChannelError):
            await b.recv()  # stays broken


async def test_replayed_record_is_refused() -> None:
    ta, tb = memory_transport_pair()
    tap = Tap(ta)
    a, b = await open_pair(*config_pair(), transports=(tap, tb))
    async with a, b:
        await a.send(b"transfer 100")
        assert await b.recv() == b"transfer 100"
        await tap.inner.send(tap.sent[-1])  # the attacker replays the record
        with pytest.raises(BrokenChannelError) as info:
            await b.recv()
        assert isinstance(info.value.__cause__, RemoteProtocolError)


async def test_truncation_by_the_network_is_not_an_orderly_end() -> None:
    ta, tb = memory_transport_pair()
    a, b = await open_pair(*config_pair(), transports=(ta, tb))
    await a.send(b"last")
    await asyncio.sleep(0.05)  # let the corked message reach the wire
    await ta.aclose()  # the connection drops without CLOSE
    assert await b.recv() == b"last"
    with pytest.raises(BrokenChannelError) as info:
        await b.recv()
    assert isinstance(info.value.__cause__, RemoteProtocolError)
    await a.aclose()
    await b.aclose()


async def test_garbage_from_a_non_qkdlink_peer() -> None:
    _, b_config = config_pair()
    ta, tb = memory_transport_pair()
    server = asyncio.ensure_future(serve(b_config, tb))
    await ta.send(b"SSH-2.0-OpenSSH_9.6\r\n" + bytes(500))
    with pytest.raises(HandshakeError) as info:
        await asyncio.wait_for(server, 5)
    assert isinstance(info.value.__cause__, RemoteProtocolError)


async def test_wrong_static_key_fails_the_handshake() -> None:
    a_config, b_config = config_pair()
    _, stranger_public = x25519_keypair()
    a_config = replace(a_config, peer_static_public_key=stranger_public)
    error = await _expect_handshake_failure(a_config, b_config)
    assert isinstance(error.__cause__, AuthenticationError)


async def test_unknown_key_id_fails_the_handshake() -> None:
    a_config, b_config = config_pair()
    other_link = InMemoryKeyPool()  # the initiator's key comes from a link the peer never saw
    a_config = replace(a_config, key_provider=other_link.provider("hospital-a"))
    error = await _expect_handshake_failure(a_config, b_config)
    assert isinstance(error.__cause__, KeyIdError)


async def test_replayed_handshake_fails_because_the_key_was_consumed() -> None:
    link = InMemoryKeyPool()
    a_config, b_config = config_pair(link)
    ta, tb = memory_transport_pair()
    tap = Tap(ta)
    a, b = await open_pair(a_config, b_config, transports=(tap, tb))
    await a.aclose()
    await b.aclose()
    first_message = tap.sent[0]
    ta2, tb2 = memory_transport_pair()
    server = asyncio.ensure_future(serve(b_config, tb2))
    await ta2.send(first_message)
    with pytest.raises(HandshakeError) as info:
        await asyncio.wait_for(server, 5)
    assert isinstance(info.value.__cause__, KeyIdError)


async def test_downgrade_of_the_hybrid_mode_is_refused() -> None:
    a_config, b_config = config_pair()
    a_config = replace(a_config, mode="qkd+x25519")
    error = await _expect_handshake_failure(a_config, b_config)
    assert isinstance(error.__cause__, DowngradeError)


class CountingProvider:
    """A slave-side provider that counts `dec_keys` calls."""

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.key_by_id_calls = 0

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        return await self.inner.new_key(peer)

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        self.key_by_id_calls += 1
        return await self.inner.key_by_id(peer, key_id)


async def test_downgraded_initiation_is_refused_before_the_responder_fetches_its_key() -> None:
    link = InMemoryKeyPool()
    counting = CountingProvider(link.provider("hospital-b"))
    a_config, b_config = config_pair(link, b_provider=counting)
    a_config = replace(a_config, mode="qkd+x25519")  # or an attacker rewrote the mode byte
    error = await _expect_handshake_failure(a_config, b_config)
    assert isinstance(error.__cause__, DowngradeError)
    assert counting.key_by_id_calls == 0  # no dec_keys: the QKD key was not consumed
    assert link.issued(*NODES) == 1
    assert link.delivered(*NODES) == 0


class HangingProvider:
    """A slave-side provider whose KME never answers for rekey keys."""

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.calls = 0

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        raise AssertionError("the responder never fetches fresh keys")

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        self.calls += 1
        if self.calls == 1:  # the handshake key
            return await self.inner.key_by_id(peer, key_id)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_missed_rekey_ends_the_channel_with_rekey_error() -> None:
    link = InMemoryKeyPool()
    hanging = HangingProvider(link.provider("hospital-b"))
    a_config, b_config = config_pair(
        link, b_provider=hanging, rekey_interval=0.2, reject_after=5.0, rekey_timeout=0.5
    )
    a, b = await open_pair(a_config, b_config)
    async with a, b:
        await a.send(b"before")
        assert await b.recv() == b"before"
        with pytest.raises(RekeyError):
            async with asyncio.timeout(5):
                await a.recv()
        with pytest.raises(RekeyError):
            await a.send(b"never on an exhausted key")


class WrongKeyProvider:
    """A slave-side KME that answers the right key ID with other key material."""

    async def new_key(self, peer: str) -> tuple[str, bytes]:
        raise AssertionError("the responder never fetches fresh keys")

    async def key_by_id(self, peer: str, key_id: str) -> bytes:
        return bytes(32)


async def test_wrong_psk_fails_the_handshake_opaquely() -> None:
    """psk2 is mixed into message 2: the initiator detects the wrong key (opaque tag failure),
    and the responder, without key confirmation, refuses to return a channel."""
    a_config, b_config = config_pair(b_provider=WrongKeyProvider())
    error = await _expect_handshake_failure(a_config, b_config, initiator_cause=AuthenticationError)
    assert "confirm" in str(error)


class DuplicatingReordering:
    """A network that sends every frame twice and swaps each pair of frames."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.held: bytes | None = None
        self.handshake_frames = 2  # pass the handshake message and key confirmation untouched

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        data = bytes(frame)
        if self.handshake_frames:
            self.handshake_frames -= 1
            await self.inner.send(data)
            return
        if self.held is None:
            self.held = data
            return
        for f in (data, self.held, data, self.held):
            await self.inner.send(f)
        self.held = None

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def aclose(self) -> None:
        if self.held is not None:
            await self.inner.send(self.held)
        await self.inner.aclose()


async def test_window_mode_tolerates_duplication_and_reordering_strict_mode_does_not() -> None:
    for window, expect_ok in ((1024, True), (None, False)):
        ta, tb = memory_transport_pair()
        a, b = await open_pair(
            *config_pair(replay_window=window), transports=(DuplicatingReordering(ta), tb)
        )
        async with a, b:
            try:
                for i in range(20):
                    await a.send(bytes([i]))
                    await asyncio.sleep(0)  # one record per frame
            except BrokenChannelError:
                assert not expect_ok  # strict mode: b gave up and hung up on a
            async with asyncio.timeout(10):
                if expect_ok:
                    got = sorted([(await b.recv())[0] for _ in range(20)])
                    assert got == list(range(20))
                    assert b.stats.records_dropped >= 18
                else:
                    with pytest.raises(BrokenChannelError) as info:
                        await _read(b, 20)
                    assert isinstance(info.value.__cause__, RemoteProtocolError)


async def _read(channel: Channel, count: int) -> None:
    for _ in range(count):
        await channel.recv()


async def test_silent_peer_times_the_handshake_out() -> None:
    _, b_config = config_pair(handshake_timeout=0.2)
    ta, tb = memory_transport_pair()
    with pytest.raises(HandshakeError, match="timed out"):
        await serve(b_config, tb)
    with pytest.raises(ChannelClosedError):
        await tb.send(b"the transport was closed")
    await ta.aclose()
