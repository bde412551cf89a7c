"""`connect` and `serve`: open a transport, run the handshake, return a running `Channel`.

Both return an object that is awaitable (``channel = await connect(...)``) and an async context
manager (``async with connect(...) as channel:``), which closes the channel on exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from types import TracebackType

from protocols.channel import (
    HandshakeReplayCache,
    HandshakeResult,
    RecordLayer,
    initial_epoch_keys,
)
from qkdlink.channel._channel import Channel
from qkdlink.channel._config import ChannelConfig, TcpEndpoint
from qkdlink.channel._handshake_io import initiate_handshake, respond_handshake
from qkdlink.errors import HandshakeError
from qkdlink.transport import (
    MqttTransport,
    MqttTransportConfig,
    Transport,
    tcp_connect,
    tcp_listen,
)

__all__ = ["ChannelOpener", "TransportSpec", "connect", "serve"]

TransportSpec = TcpEndpoint | MqttTransportConfig | Transport
"""Where the channel runs: a TCP endpoint, an MQTT broker and topic pair, or a ready transport
(which the channel then owns and closes)."""


class ChannelOpener:
    """Awaitable and async context manager around the opening of one channel."""

    def __init__(self, opener: Callable[[], Awaitable[Channel]]) -> None:
        self._opener = opener
        self._channel: Channel | None = None

    def __await__(self) -> Generator[object, None, Channel]:
        return self._opener().__await__()

    async def __aenter__(self) -> Channel:
        self._channel = await self._opener()
        return self._channel

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._channel is not None:
            await self._channel.aclose()


async def _open_mqtt(config: MqttTransportConfig) -> MqttTransport:
    transport = MqttTransport(config)
    await transport.__aenter__()
    return transport


def _start(
    config: ChannelConfig, transport: Transport, result: HandshakeResult, leftover: bytes
) -> Channel:
    keys = initial_epoch_keys(
        result.handshake_hash, result.initiator_to_responder, result.responder_to_initiator
    )
    layer = RecordLayer(
        config.record_config,
        initiator=result.is_initiator,
        keys=keys,
        now=asyncio.get_running_loop().time(),
        key_confirmation=True,
    )
    channel = Channel(config, transport, layer, result, leftover)
    channel._start()
    return channel


async def _handshake(
    config: ChannelConfig,
    transport: Transport,
    *,
    initiator: bool,
    replay_cache: HandshakeReplayCache | None,
) -> Channel:
    channel: Channel | None = None
    try:
        async with asyncio.timeout(config.handshake_timeout):
            if initiator:
                result, leftover = await initiate_handshake(config, transport)
            else:
                result, leftover = await respond_handshake(config, transport, replay_cache)
            channel = _start(config, transport, result, leftover)
            if not initiator:
                # Key confirmation: return only once the initiator proved it has the same keys
                # (a wrong PSK or static key shows here as the initiator giving up).
                await channel._wait_confirmed()
    except BaseException as exc:
        if channel is not None:
            await channel.aclose()
        await transport.aclose()
        if isinstance(exc, TimeoutError):
            raise HandshakeError("handshake timed out") from None
        raise
    return channel


def connect(config: ChannelConfig, transport: TransportSpec) -> ChannelOpener:
    """Open a channel as the initiator (master SAE): fetch a QKD key, run the handshake.

    Raises (when awaited):
        TransportError: the transport could not be opened.
        HandshakeError: the handshake failed (`__cause__` says why).
    """

    async def open_channel() -> Channel:
        if isinstance(transport, TcpEndpoint):
            opened: Transport = await tcp_connect(
                transport.host, transport.port, ssl_context=transport.ssl_context
            )
        elif isinstance(transport, MqttTransportConfig):
            opened = await _open_mqtt(transport)
        else:
            opened = transport
        return await _handshake(config, opened, initiator=True, replay_cache=None)

    return ChannelOpener(open_channel)


def serve(
    config: ChannelConfig,
    transport: TransportSpec,
    *,
    on_listening: Callable[[int], None] | None = None,
    replay_cache: HandshakeReplayCache | None = None,
) -> ChannelOpener:
    """Open a channel as the responder (slave SAE): wait for the peer, answer its handshake.

    With a `TcpEndpoint` this listens, accepts one connection, and stops listening;
    `on_listening(port)` is called with the bound port (useful with port 0). With MQTT it
    subscribes and waits for the initiation.

    Raises (when awaited):
        TransportError: the transport could not be opened.
        HandshakeError: the handshake failed (`__cause__` says why).
    """

    async def open_channel() -> Channel:
        if isinstance(transport, TcpEndpoint):
            async with await tcp_listen(
                transport.host, transport.port, ssl_context=transport.ssl_context
            ) as listener:
                if on_listening is not None:
                    on_listening(listener.port)
                opened: Transport = await listener.accept()
        elif isinstance(transport, MqttTransportConfig):
            opened = await _open_mqtt(transport)
            if on_listening is not None:
                on_listening(transport.port)
        else:
            opened = transport
        return await _handshake(config, opened, initiator=False, replay_cache=replay_cache)

    return ChannelOpener(open_channel)
