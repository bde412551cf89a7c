"""MQTT transport through a broker (aiomqtt), reliable across broker restarts.

Topic layout (documented in docs/channel.md): node ``A`` publishes everything it sends to node
``B`` on ``{prefix}/A/B`` (default prefix ``qkdlink/v1``) and subscribes to ``{prefix}/B/A``.
Payloads are channel records, i.e. ciphertext; the broker sees the node IDs in the topic, the
frame header below and the sizes and timing, nothing else.

MQTT QoS 1 is "at least once", and a broker restart can lose what it had not persisted, so this
transport adds its own sequence numbers, de-duplication, cumulative acknowledgements and
retransmission (the classic go-back-N scheme, as TCP does over IP). Each frame is::

    kind (u8) | stream (u64) | seq (u64) | ack (u64) | data

``stream`` is a random ID per transport instance (frames of any other stream are ignored), ``seq``
numbers DATA and FIN frames from 1, and ``ack`` is the highest sequence number of the peer's
stream that the application has consumed: unconsumed data is never acknowledged, which gives
end-to-end flow control through the sender's window. Unacknowledged frames are resent after a
reconnection and whenever they are older than `retransmit_interval`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from qkdlink._aclose import AsyncClosing
from qkdlink.errors import ChannelClosedError, ConfigurationError, TransportError

__all__ = ["MqttTransport", "MqttTransportConfig"]

_FRAME = struct.Struct("!BQQQ")
_DATA, _ACK, _FIN = 0, 1, 2
_FORBIDDEN_IN_ID = frozenset("/+#\x00")


@dataclass(frozen=True, slots=True)
class MqttTransportConfig:
    """Where the broker is and who talks to whom; validated on construction."""

    local_id: str
    """This node's ID (a topic level: no '/', '+', '#')."""
    peer_id: str
    """The peer node's ID."""
    host: str = "127.0.0.1"
    port: int = 1883
    tls_context: ssl.SSLContext | None = field(default=None, compare=False)
    """TLS to the broker (optional: the channel is end-to-end encrypted either way)."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    topic_prefix: str = "qkdlink/v1"
    window: int = 256
    """Frames sent but not yet acknowledged before `send` waits."""
    window_bytes: int = 16 << 20
    """Bytes sent but not yet acknowledged before `send` waits (bounds retransmit memory)."""
    retransmit_interval: float = 1.0
    """Seconds after which unacknowledged frames are published again."""
    reconnect_interval: float = 0.1
    """First delay between reconnection attempts (doubles up to 2 s)."""
    session_expiry: int = 300
    """MQTT 5 session expiry (s): the broker keeps our subscription and queued QoS 1 messages
    that long while we are disconnected, and drops the session after."""
    connect_timeout: float = 10.0
    """How long `__aenter__` waits for the first connection."""

    def __post_init__(self) -> None:
        for name in (self.local_id, self.peer_id):
            if not name or _FORBIDDEN_IN_ID & set(name):
                raise ConfigurationError(f"invalid node ID for a topic level: {name!r}")
        if self.local_id == self.peer_id:
            raise ConfigurationError("local_id and peer_id must differ")
        if (
            self.window < 1
            or self.window_bytes < 1
            or self.retransmit_interval <= 0
            or self.reconnect_interval <= 0
        ):
            raise ConfigurationError("window and intervals must be positive")

    @property
    def publish_topic(self) -> str:
        return f"{self.topic_prefix}/{self.local_id}/{self.peer_id}"

    @property
    def subscribe_topic(self) -> str:
        return f"{self.topic_prefix}/{self.peer_id}/{self.local_id}"


class MqttTransport(AsyncClosing):
    """A `Transport` through an MQTT broker; use as ``async with MqttTransport(config) as t``."""

    def __init__(self, config: MqttTransportConfig) -> None:
        self._config = config
        self._stream = int.from_bytes(os.urandom(8), "big")
        self._client_id = f"qkdlink-{config.local_id}-{config.peer_id}-{self._stream:016x}"
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._failed: BaseException | None = None
        # sending side
        self._next_seq = 1
        self._unacked: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._unacked_bytes = 0
        self._last_sent_at = 0.0
        self._window_open = asyncio.Event()
        self._window_open.set()
        self._all_acked = asyncio.Event()
        self._all_acked.set()
        # receiving side
        self._peer_stream: int | None = None
        self._expected = 1
        self._consumed = 0
        self._fin_seq = 0
        self._reorder: dict[int, tuple[int, bytes]] = {}
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._ack_wanted = asyncio.Event()
        self._sessions = 0
        self._task_scope: asyncio.Task[None] | None = None
        self.reconnects = 0
        """How many times the broker connection was re-established."""

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        self._task_scope = asyncio.create_task(self._run(), name="qkdlink-mqtt-transport")
        try:
            await asyncio.wait_for(self._connected.wait(), self._config.connect_timeout)
        except TimeoutError:
            await self.aclose()
            raise TransportError(
                f"cannot reach the MQTT broker at {self._config.host}:{self._config.port}"
            ) from self._failed
        return self

    async def aclose(self, linger: float = 2.0) -> None:
        """Send FIN, wait up to `linger` seconds for everything to be acknowledged, disconnect."""
        if self._closed:
            return
        if self._task_scope is not None and not self._task_scope.done():
            with contextlib.suppress(ChannelClosedError, TransportError):
                await self._enqueue(_FIN, b"")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_acked.wait(), linger)
        self._closed = True
        self._window_open.set()
        self._inbox.put_nowait(b"")
        if self._task_scope is not None:
            self._task_scope.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task_scope

    async def _run(self) -> None:
        delay = self._config.reconnect_interval
        while not self._closed:
            try:
                await self._session(clean_start=self._sessions == 0)
            except aiomqtt.MqttError as exc:
                self._failed = exc
            if self._client is not None:  # that session was up: retry quickly
                delay = self._config.reconnect_interval
            self._client = None
            self._connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _session(self, *, clean_start: bool) -> None:
        config = self._config
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = config.session_expiry
        client = aiomqtt.Client(
            config.host,
            config.port,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=clean_start,
            properties=properties,
            tls_context=config.tls_context,
            username=config.username,
            password=config.password,
            keepalive=10,
            timeout=5.0,
        )
        async with client:
            await client.subscribe(config.subscribe_topic, qos=1)
            if self._sessions:
                self.reconnects += 1
            self._sessions += 1
            self._client = client
            self._connected.set()
            helpers = [
                asyncio.create_task(self._retransmit_loop(client), name="mqtt-retransmit"),
                asyncio.create_task(self._ack_loop(client), name="mqtt-ack"),
            ]
            try:
                async for message in client.messages:
                    if isinstance(message.payload, bytes | bytearray):
                        self._on_frame(bytes(message.payload))
            finally:
                for task in helpers:
                    task.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)

    # ------------------------------------------------------------------ sending

    async def send(self, frame: bytes | bytearray | memoryview) -> None:
        if len(frame):  # an empty DATA frame would read as end of stream
            await self._enqueue(_DATA, bytes(frame))

    async def _enqueue(self, kind: int, data: bytes) -> None:
        if self._closed:
            raise ChannelClosedError("transport closed")
        while self._unacked and (
            len(self._unacked) >= self._config.window
            or self._unacked_bytes >= self._config.window_bytes
        ):
            self._window_open.clear()
            await self._window_open.wait()
            if self._closed:
                raise ChannelClosedError("transport closed")
        seq = self._next_seq
        self._next_seq += 1
        self._unacked[seq] = (kind, data)
        self._unacked_bytes += len(data)
        self._all_acked.clear()
        client = self._client
        if client is not None:
            await self._publish(client, kind, seq, data)

    async def _publish(self, client: aiomqtt.Client, kind: int, seq: int, data: bytes) -> None:
        header = _FRAME.pack(kind, self._stream, seq, max(self._consumed, self._fin_seq))
        self._last_sent_at = time.monotonic()
        # If the connection is going down the frame stays unacknowledged and is resent by the
        # next session; the reader notices the disconnection and reconnects.
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(self._config.publish_topic, header + data, qos=1, timeout=5.0)

    async def _retransmit_loop(self, client: aiomqtt.Client) -> None:
        # After a (re)connection, resend everything not yet acknowledged, in order.
        await self._resend_all(client)
        while True:
            await asyncio.sleep(self._config.retransmit_interval / 2)
            if (
                self._unacked
                and time.monotonic() - self._last_sent_at >= self._config.retransmit_interval
            ):
                await self._resend_all(client)

    async def _resend_all(self, client: aiomqtt.Client) -> None:
        for seq, (kind, data) in list(self._unacked.items()):
            if seq in self._unacked:
                await self._publish(client, kind, seq, data)

    def _on_ack(self, ack: int) -> None:
        while self._unacked:
            seq = next(iter(self._unacked))
            if seq > ack:
                break
            self._unacked_bytes -= len(self._unacked.pop(seq)[1])
        if (
            len(self._unacked) < self._config.window
            and self._unacked_bytes < self._config.window_bytes
        ):
            self._window_open.set()
        if not self._unacked:
            self._all_acked.set()
        self._last_sent_at = time.monotonic()

    # ------------------------------------------------------------------ receiving

    def _on_frame(self, payload: bytes) -> None:
        if len(payload) < _FRAME.size:
            return  # not ours: ignore (the topic is only ever written by the peer)
        kind, stream, seq, ack = _FRAME.unpack_from(payload)
        if self._peer_stream is None:
            self._peer_stream = stream
        if stream != self._peer_stream:
            return
        self._on_ack(ack)
        if kind == _ACK:
            return
        if seq < self._expected or seq in self._reorder:
            self._ack_wanted.set()  # a duplicate: our ack was lost or late, repeat it
            return
        if seq >= self._expected + self._config.window:
            return  # outside the window the peer may use: drop, it will be resent
        self._reorder[seq] = (kind, payload[_FRAME.size :])
        while self._expected in self._reorder:
            kind, data = self._reorder.pop(self._expected)
            self._expected += 1
            if kind == _FIN:
                # Acknowledge the end of stream on receipt, so the peer's close does not wait
                # for our application to read it; everything before it is already held here.
                self._fin_seq = self._expected - 1
                self._ack_wanted.set()
                self._inbox.put_nowait(b"")
            else:
                self._inbox.put_nowait(data)

    async def receive(self) -> bytes:
        if self._closed:
            raise ChannelClosedError("transport closed")
        data = await self._inbox.get()
        if not data:
            if self._closed:
                raise ChannelClosedError("transport closed")
            self._inbox.put_nowait(b"")  # end of stream stays visible to later calls
            self._consumed = self._expected - 1
            self._ack_wanted.set()
            return b""
        self._consumed += 1
        self._ack_wanted.set()
        return data

    async def _ack_loop(self, client: aiomqtt.Client) -> None:
        while True:
            await self._ack_wanted.wait()
            await asyncio.sleep(0.005)  # coalesce the acknowledgements of a burst
            self._ack_wanted.clear()
            header = _FRAME.pack(_ACK, self._stream, 0, max(self._consumed, self._fin_seq))
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self._config.publish_topic, header, qos=0, timeout=5.0)
