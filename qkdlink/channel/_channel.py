"""`Channel`: the asyncio adapter over the sans-IO record layer (feed, drain events, flush, timer).

Error semantics follow trio's streams (`trio/_abc.py`): `ChannelClosedError` after our own
`aclose`, `BrokenChannelError` (with `__cause__`: AuthenticationError, RemoteProtocolError,
TransportError, ...) when the peer or network broke it, `RekeyError` when a rekey was missed,
`EndOfChannelError` once the peer closed and every message was read, `BusyError` when two tasks
use one direction at once. After a failure, messages authenticated before it are still
delivered, then the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, Self, cast, runtime_checkable

import numpy as np
import numpy.typing as npt

from protocols.channel import HandshakeResult, KeyLifetimeError, RecordLayer, otp_record_size
from protocols.channel.events import (
    ArrayReceived,
    CloseReceived,
    MessageReceived,
    OtpKeysRequested,
    RekeyCompleted,
    RekeyKeyRequested,
    RekeyNeeded,
)
from protocols.errors import LocalProtocolError
from qkdlink._aclose import AsyncClosing
from qkdlink.channel._config import ChannelConfig
from qkdlink.errors import (
    BrokenChannelError,
    BusyError,
    ChannelClosedError,
    EndOfChannelError,
    HandshakeError,
    KeyDeliveryError,
    KeyExhaustedError,
    QkdlinkError,
    RekeyError,
    UnexpectedMessageError,
)
from qkdlink.transport import Transport

__all__ = ["Channel", "ChannelStats"]

_CHUNK = 1 << 20
"""Bytes of records encrypted per transport write: large batched writes, bounded memory."""
_KEY_RETRY = 1.0
_CORK_LIMIT = 256 * 1024
"""Queued bytes below which `send` returns without writing (a flush task follows at once)."""


@dataclass(frozen=True, slots=True)
class ChannelStats:
    """A snapshot of a channel's counters (application bytes, not wire bytes)."""

    bytes_sent: int
    bytes_received: int
    messages_sent: int
    messages_received: int
    records_sent: int
    records_received: int
    records_dropped: int
    """Window mode only: duplicates and too-old records discarded."""
    rekeys: int
    epoch: int
    qkd_keys_consumed: int
    """QKD keys this end used: the handshake's, each rekey's, and every OTP pad key."""
    otp_key_bytes: int


@runtime_checkable
class _LendingTransport(Protocol):
    """A transport that can lend received bytes without copying them (`TcpTransport`)."""

    async def receive_view(self) -> memoryview:
        """The next bytes, as `receive`, valid only until the next call."""
        ...


class Channel(AsyncClosing):
    """An authenticated, encrypted, QKD-keyed message channel. Build with `connect`/`serve`.

    Messages keep their boundaries; `send` and `recv` carry bytes, `send_array`/`recv_array`
    carry numpy arrays without a full extra copy, `send_otp` carries small messages under a
    one-time pad. One task may send while another receives.
    """

    def __init__(
        self,
        config: ChannelConfig,
        transport: Transport,
        layer: RecordLayer,
        handshake: HandshakeResult,
        leftover: bytes = b"",
    ) -> None:
        self._config = config
        self._transport = transport
        self._layer = layer
        self._handshake = handshake
        self._provider = config.key_provider
        self._inbox: deque[bytes | npt.NDArray[Any]] = deque()
        self._inbox_bytes = 0
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._timer_changed = asyncio.Event()
        self._rekeyed = asyncio.Event()
        self._flush_scheduled = False
        self._send_lock = asyncio.Lock()
        self._events_lock = asyncio.Lock()
        self._sending = False
        self._receiving = False
        self._closed = False
        self._peer_closed = False
        self._error: BaseException | None = None
        self._keys_consumed = 1  # the handshake's QKD key
        self._otp_pool: list[tuple[str, bytes]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._leftover = leftover
        self._last_timer: float | None = None

    def _start(self) -> None:
        self._spawn(self._reader(), "qkdlink-channel-reader")
        self._spawn(self._timer(), "qkdlink-channel-timer")
        if self._layer.has_data_to_send:  # the initiator's key confirmation
            self._schedule_flush()

    async def _wait_confirmed(self) -> None:
        """Responder: wait for the initiator's key confirmation record.

        Raises:
            HandshakeError: the channel failed first (the initiator aborted or sent garbage).
        """
        while not self._layer.peer_confirmed:
            if self._error is not None or self._peer_closed:
                await self.aclose()
                raise HandshakeError("the initiator did not confirm the session keys") from (
                    self._error
                )
            self._readable.clear()
            await self._readable.wait()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ public API

    @property
    def peer_id(self) -> str:
        return self._config.peer_id

    @property
    def mode(self) -> str:
        """The hybrid mode that keyed the session."""
        return self._handshake.mode.value

    @property
    def handshake_hash(self) -> bytes:
        """The Noise handshake hash: a public, unique channel binding."""
        return self._handshake.handshake_hash

    @property
    def stats(self) -> ChannelStats:
        s = self._layer.stats
        return ChannelStats(
            bytes_sent=s.bytes_sent,
            bytes_received=s.bytes_received,
            messages_sent=s.messages_sent,
            messages_received=s.messages_received,
            records_sent=s.records_sent,
            records_received=s.records_received,
            records_dropped=s.records_dropped,
            rekeys=s.rekeys,
            epoch=self._layer.epoch,
            qkd_keys_consumed=self._keys_consumed,
            otp_key_bytes=s.otp_key_bytes,
        )

    async def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send one message (any size up to `max_message_size`; large ones are fragmented).

        Small messages are corked: `send` returns once the message is queued, and one flush
        task encrypts and writes the whole burst at the next loop iteration (`aclose` flushes
        what is left). Larger sends return once written to the transport.

        Raises:
            ChannelClosedError: this side closed the channel.
            BrokenChannelError: the peer or network broke it (see `__cause__`).
            RekeyError: a rekey was missed; the channel is over.
            BusyError: another task is sending.
            LocalProtocolError: the message is larger than `max_message_size`.
        """
        self._enter_send()
        try:
            if len(data) <= _CORK_LIMIT and not isinstance(data, bytes):
                data = bytes(data)  # the record layer keeps a reference until it encrypts
            self._layer.send_message(data)
            if self._layer.queued_bytes < _CORK_LIMIT:
                # Small messages are corked: encrypted and written together by one flush task
                # at the next loop iteration (one data_to_send, one socket write for a burst).
                self._schedule_flush()
            else:
                await self._flush_all()
        finally:
            self._sending = False

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._spawn(self._deferred_flush(), "qkdlink-channel-flush")

    async def _deferred_flush(self) -> None:
        self._flush_scheduled = False
        with contextlib.suppress(QkdlinkError):  # recorded by _fail; the next call raises it
            await self._flush_all()

    async def send_array(self, array: npt.NDArray[Any]) -> None:
        """Send a numeric numpy array (dtype kinds b, i, u, f, c), encrypted from its memory.

        Raises:
            ChannelClosedError, BrokenChannelError, RekeyError, BusyError: as `send`.
            LocalProtocolError: unsupported dtype or larger than `max_array_size`.
        """
        self._enter_send()
        try:
            self._layer.send_array(array)
            await self._flush_all()
        finally:
            self._sending = False

    async def send_otp(self, data: bytes) -> None:
        """Send a small message under a one-time pad of fresh QKD key (information-theoretic).

        Consumes ``len(data) + 32`` bytes of QKD key, rounded up to whole keys. Keys fetched
        before the pool ran dry are kept for the next OTP message, never reused.

        Raises:
            KeyExhaustedError: not enough QKD key; nothing was sent and there is no fallback.
            ChannelClosedError, BrokenChannelError, RekeyError, BusyError: as `send`.
            LocalProtocolError: the message is larger than one OTP record allows.
        """
        self._enter_send()
        try:
            if len(data) > self._config.record_config.max_otp_message:
                raise LocalProtocolError("OTP message too large for one record")
            needed = len(data) + 32
            while sum(len(m) for _, m in self._otp_pool) < needed:
                if len(self._otp_pool) >= 255:
                    raise LocalProtocolError("OTP message needs more than 255 QKD keys")
                try:
                    self._otp_pool.append(await self._provider.new_key(self._config.peer_id))
                except KeyExhaustedError:
                    raise
                except KeyDeliveryError as exc:
                    raise KeyExhaustedError("no QKD key available for the one-time pad") from exc
            pads, total = [], 0
            for key_id, material in self._otp_pool:
                if total >= needed:
                    break
                pads.append((key_id.encode(), material))
                total += len(material)
            record_size = otp_record_size(len(data), [key_id for key_id, _ in pads])
            if record_size > self._config.record_size:
                raise LocalProtocolError("OTP message and its key IDs do not fit one record")
            del self._otp_pool[: len(pads)]  # each key is used for this message only
            self._layer.send_otp(data, pads)
            self._keys_consumed += len(pads)
            await self._flush_all()
        finally:
            self._sending = False

    async def recv(self) -> bytes:
        """The next message.

        Raises:
            EndOfChannelError: the peer closed the channel and every message was read.
            UnexpectedMessageError: the next message is an array (left for `recv_array`).
            ChannelClosedError, BrokenChannelError, RekeyError: as `send`.
            BusyError: another task is receiving.
        """
        return cast(bytes, await self._next_item(want_array=False))

    async def recv_array(self) -> npt.NDArray[Any]:
        """The next message, which must be an array sent with `send_array`.

        Raises:
            UnexpectedMessageError: the next message is bytes (left for `recv`).
            EndOfChannelError, ChannelClosedError, BrokenChannelError, RekeyError, BusyError.
        """
        return cast("npt.NDArray[Any]", await self._next_item(want_array=True))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except EndOfChannelError:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Send CLOSE (if the channel is healthy), stop, and close the transport. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._error is None:
            with contextlib.suppress(QkdlinkError, OSError, TimeoutError):
                self._layer.close()
                async with asyncio.timeout(5):
                    await self._flush_all(closing=True)
        await self._stop_tasks()
        with contextlib.suppress(QkdlinkError, OSError):
            await self._transport.aclose()
        self._readable.set()
        self._space.set()

    # ------------------------------------------------------------------ receiving

    async def _next_item(self, *, want_array: bool) -> bytes | npt.NDArray[Any]:
        if self._receiving:
            raise BusyError("another task is receiving on this channel")
        self._receiving = True
        try:
            while not self._inbox:
                self._check_usable()
                if self._peer_closed:
                    raise EndOfChannelError("the peer closed the channel")
                self._readable.clear()
                await self._readable.wait()
            if self._closed:
                raise ChannelClosedError("the channel was closed by this side")
            # Messages authenticated before a failure were sent by the peer: they are delivered
            # first, then the failure is raised (nothing is lost, nothing forged slips in).
            head = self._inbox[0]
            if isinstance(head, np.ndarray) != want_array:
                kind = "an array" if isinstance(head, np.ndarray) else "bytes"
                raise UnexpectedMessageError(f"the next message is {kind}")
            self._inbox.popleft()
            self._inbox_bytes -= len(head) if isinstance(head, bytes) else head.nbytes
            if self._inbox_bytes <= self._config.receive_buffer:
                self._space.set()
            return head
        finally:
            self._receiving = False

    async def _reader(self) -> None:
        try:
            if self._leftover:
                self._layer.receive_data(self._leftover, self._now())
                self._leftover = b""
                await self._process_events()
            # The record layer keeps no reference to the bytes it is fed (whole records are
            # decrypted from them in place, a partial tail is copied), so a lent view will do.
            transport = self._transport
            receive = (
                transport.receive_view
                if isinstance(transport, _LendingTransport)
                else transport.receive
            )
            while True:
                while self._inbox_bytes > self._config.receive_buffer:
                    self._space.clear()
                    await self._space.wait()
                data = await receive()
                if not data:
                    self._layer.receive_eof()
                    return
                self._layer.receive_data(data, self._now())
                # Returns only once any OTP keys the data asked for were provided (the events
                # lock serialises handlers), so the layer is never fed while `awaiting_keys`,
                # its back-pressure signal: the peer's later records wait in the transport.
                await self._process_events()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    async def _process_events(self) -> None:
        layer = self._layer
        async with self._events_lock:
            while (event := layer.next_event()) is not None:
                if isinstance(event, MessageReceived):
                    self._inbox.append(event.data)
                    self._inbox_bytes += len(event.data)
                    self._readable.set()
                elif isinstance(event, ArrayReceived):
                    self._inbox.append(event.array)
                    self._inbox_bytes += event.array.nbytes
                    self._readable.set()
                elif isinstance(event, CloseReceived):
                    self._peer_closed = True
                    self._readable.set()
                elif isinstance(event, RekeyNeeded):
                    self._spawn(self._rekey(), "qkdlink-channel-rekey")
                elif isinstance(event, RekeyKeyRequested):
                    await self._accept_rekey(event.key_id)
                elif isinstance(event, OtpKeysRequested):
                    await self._fetch_otp_keys(event.key_ids)
                elif isinstance(event, RekeyCompleted):
                    self._rekeyed.set()
        if not self._inbox and layer.peer_confirmed:
            self._readable.set()  # wakes a responder waiting for key confirmation
        self._rearm_timer()

    async def _accept_rekey(self, key_id: bytes) -> None:
        try:
            material = await self._provider.key_by_id(self._config.peer_id, key_id.decode())
        except (QkdlinkError, UnicodeDecodeError) as exc:
            raise RekeyError("the peer's rekey key could not be fetched") from exc
        self._keys_consumed += 1
        self._layer.accept_rekey(key_id, material, self._now())
        await self._flush_once()

    async def _fetch_otp_keys(self, key_ids: tuple[bytes, ...]) -> None:
        peer = self._config.peer_id
        try:
            materials = await asyncio.gather(
                *(self._provider.key_by_id(peer, k.decode()) for k in key_ids)
            )
        except (QkdlinkError, UnicodeDecodeError) as exc:
            raise BrokenChannelError("the one-time-pad keys could not be fetched") from exc
        self._keys_consumed += len(materials)
        self._layer.provide_otp_keys(materials, self._now())

    # ------------------------------------------------------------------ rekey and timer

    async def _rekey(self) -> None:
        """Initiator: fetch a fresh QKD key and announce it; retry until the layer gives up."""
        try:
            while True:
                try:
                    key_id, material = await self._provider.new_key(self._config.peer_id)
                    break
                except KeyDeliveryError:
                    # The layer's hard deadline (reject_after) ends the channel if this persists.
                    await asyncio.sleep(_KEY_RETRY)
            self._keys_consumed += 1
            self._layer.start_rekey(key_id.encode(), material, self._now())
            self._rearm_timer()
            await self._flush_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    def _rearm_timer(self) -> None:
        deadline = self._layer.get_timer()
        if deadline != self._last_timer:
            self._last_timer = deadline
            self._timer_changed.set()

    async def _timer(self) -> None:
        try:
            while True:
                self._timer_changed.clear()
                deadline = self._layer.get_timer()
                self._last_timer = deadline
                delay = math.inf if deadline is None else max(0.0, deadline - self._now())
                try:
                    async with asyncio.timeout(None if delay == math.inf else delay):
                        await self._timer_changed.wait()
                    await self._process_events()
                    continue
                except TimeoutError:
                    pass
                self._layer.handle_timer(self._now())
                await self._process_events()
                await self._flush_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    # ------------------------------------------------------------------ sending

    async def _flush_all(self, *, closing: bool = False) -> None:
        """Send everything queued, chunk by chunk (the reader may slip control records in)."""
        layer = self._layer
        while layer.has_data_to_send or layer.send_paused:
            if not closing:
                self._check_usable()
            if layer.send_paused:
                # Wait for the QKD rekey rather than exhausting the key (the layer's deadlines
                # end the channel if the rekey never completes).
                self._rekeyed.clear()
                await self._rekeyed.wait()
                continue
            await self._flush_once()

    async def _flush_once(self) -> None:
        async with self._send_lock:
            if not self._layer.has_data_to_send:
                return
            try:
                chunk = self._layer.data_to_send(_CHUNK)
            except KeyLifetimeError as exc:
                self._fail(exc)
                self._check_usable()
                return
            if self._layer.has_events:  # e.g. RekeyNeeded after a send: the timer task handles it
                self._timer_changed.set()
            if not chunk:  # the queue held only a finished stream
                return
            try:
                await self._transport.send(chunk)
            except QkdlinkError as exc:
                self._fail(exc)
                self._check_usable()

    # ------------------------------------------------------------------ state

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _enter_send(self) -> None:
        if self._sending:
            raise BusyError("another task is sending on this channel")
        self._check_usable()
        self._sending = True

    def _check_usable(self) -> None:
        if self._closed:
            raise ChannelClosedError("the channel was closed by this side")
        if self._error is not None:
            self._raise_error()

    def _raise_error(self) -> NoReturn:
        error = self._error
        if isinstance(error, KeyLifetimeError | RekeyError):
            raise RekeyError("a QKD rekey was missed; the channel is ended") from error
        raise BrokenChannelError(
            f"channel broken: {type(error).__name__}" if error else "channel broken"
        ) from error

    def _fail(self, exc: BaseException) -> None:
        """Record the first failure, wake every waiter, stop the background tasks."""
        if self._error is not None or self._closed:
            return
        self._error = exc
        self._readable.set()
        self._space.set()
        self._rekeyed.set()
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        self._spawn(self._close_transport(), "qkdlink-channel-abort")

    async def _close_transport(self) -> None:
        with contextlib.suppress(QkdlinkError, OSError):
            await self._transport.aclose()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
