"""KME-to-KME key synchronisation, master side: reserve, tell the peer, then answer the SAE.

Per link, one task drains every pending enc_keys reservation at once (group commit): one store
transaction reserves all their bytes from this KME's own partition, one mutual-TLS request tells
the peer KME the key IDs and ranges, and only when the peer has confirmed do the waiting SAE
requests get their keys. One sync is in flight per link, so the peer sees offsets in order.
A request that finds nothing queued or in flight, and enough bytes already reserved, sends its
own sync from its own task instead (same order, same messages, no hand-offs between tasks).
Whatever goes wrong after the reservation burns the bytes: they are never handed out or reused,
because the peer may or may not have applied them (docs/kme.md, "Sync protocol").
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from qkdlink.errors import (
    ConfigurationError,
    KeyExhaustedError,
    KeyStoreError,
    PeerKmeError,
)
from qkdlink.keystore import Allocation, KeyAssignment, KeyStore, StoredKey
from qkdlink.kme._bulk import new_key_ids
from qkdlink.kme._peer_http import PeerHttpConnection, PeerHttpError, is_request_path
from qkdlink.kme._peer_wire import AssignGroup, AssignMessage, encode_assign

__all__ = ["MasterSync", "PeerClient"]

_log = logging.getLogger("qkdlink.kme.sync")

_RESERVE_AHEAD = 8 * 1024
"""Bytes reserved ahead of demand (256 keys of 256 bits); at most this much burns in a crash."""

_MAX_KEYS_PER_SYNC = 4096
"""Upper bound on keys coalesced into one sync message (bounds message size and latency)."""


@dataclass(slots=True)
class _Pending:
    master_sae_id: str
    slave_sae_ids: tuple[str, ...]
    lengths: tuple[int, ...]
    future: asyncio.Future[list[StoredKey]]
    allocations: list[Allocation] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A reserved and encoded batch, waiting for its turn to be sent."""

    items: list[_Pending]
    message: bytes


def _fail(item: _Pending, exc: BaseException) -> None:
    """Fail a waiting request unless its SAE request was cancelled meanwhile."""
    if not item.future.done():
        item.future.set_exception(exc)


class PeerClient:
    """The mutual-TLS HTTP client one KME uses to call one peer KME's `/peer/v1` endpoints.

    `ssl_context` must come from `client_ssl_context(tls, peer_kme_id)`: it fails the TLS
    handshake unless the peer's certificate names `peer_kme_id`, so no request reaches another
    KME.
    """

    def __init__(
        self, base_url: str, peer_kme_id: str, ssl_context: ssl.SSLContext, timeout_s: float
    ) -> None:
        self._peer_kme_id = peer_kme_id
        self._http = PeerHttpConnection(base_url, ssl_context)
        self._timeout_s = timeout_s

    async def post(self, path: str, body: bytes) -> dict[str, object]:
        """POST a JSON body to the peer and return its JSON answer.

        Raises:
            PeerKmeError: unreachable, timed out, wrong KME identity, a non-200 answer or one
                that is not JSON.
            LocalProtocolError: `path` is not a URL path (our bug, never a peer failure).
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                status, answer_body = await self._http.post(path, body)
            if status != 200:
                # Status only: the peer's body is peer-controlled text (log injection).
                raise PeerKmeError(f"peer KME {self._peer_kme_id} answered {status}")
            # Peer bytes: not UTF-8 (UnicodeDecodeError), not JSON, or nested deeper than the
            # parser's recursion limit. Only these; a ValueError from our side is no peer failure.
            answer = json.loads(answer_body)
        except (
            OSError,
            PeerHttpError,
            TimeoutError,
            json.JSONDecodeError,
            UnicodeDecodeError,
            RecursionError,
        ) as exc:
            raise PeerKmeError(f"peer KME {self._peer_kme_id}: {type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise PeerKmeError("peer KME answered a non-object")
        return answer

    async def aclose(self) -> None:
        await self._http.aclose()


class MasterSync:
    """Group-committed reservations of one link at the master's KME (see module docstring)."""

    def __init__(
        self,
        *,
        link_id: str,
        partition: int,
        store: KeyStore,
        peer: PeerClient,
    ) -> None:
        self._link_id = link_id
        self._assign_path = f"/peer/v1/links/{link_id}/assign"
        if not is_request_path(self._assign_path):
            # Checked once here, so a bad ID fails at start-up rather than every sync.
            raise ConfigurationError(f"link ID does not fit in a URL path: {link_id!r}")
        self._partition = partition
        self._store = store
        self._peer = peer
        self._pending: deque[_Pending] = deque()
        self._spare_offset = 0
        self._spare = b""
        self._wakeup = asyncio.Event()
        self._prepared: asyncio.Queue[_Prepared] | None = None
        """Set while `run` runs: prepared batches waiting for `_send_loop`."""
        self._preparing = False
        """True from taking a batch off `_pending` until it is queued in `_prepared`."""
        self._sending = asyncio.Lock()
        """Held while a sync message is with the peer: one in flight per link."""
        self._in_send = 0
        """Batches holding or waiting for `_sending`."""

    async def reserve(
        self, master_sae_id: str, slave_sae_ids: Sequence[str], lengths: Sequence[int]
    ) -> list[StoredKey]:
        """Reserve keys for a master and its slaves, confirmed by the peer KME.

        Raises:
            KeyExhaustedError: the pool holds fewer bytes than asked (nothing consumed).
            PeerKmeError: the peer did not confirm (the reserved bytes are burned).
        """
        future: asyncio.Future[list[StoredKey]] = asyncio.get_running_loop().create_future()
        item = _Pending(master_sae_id, tuple(slave_sae_ids), tuple(lengths), future)
        if self._idle() and len(self._spare) >= sum(item.lengths):
            await self._send_now(item)
        else:
            self._pending.append(item)
            self._wakeup.set()
        return await future

    def _idle(self) -> bool:
        """Nothing waits, is being prepared, is queued or is with the peer."""
        prepared = self._prepared
        return (
            prepared is not None
            and prepared.empty()
            and not self._pending
            and not self._preparing
            and not self._in_send
        )

    async def _send_now(self, item: _Pending) -> None:
        """Send one request's sync from its own task, when the pipeline is idle and the spare
        range covers it: the same steps as `_prepare` and `_send`, without the two task
        switches through the stages (about 40 us of a round trip). Offsets stay in order:
        every later request takes its bytes after these and waits for `_sending`.

        Cancelling the SAE request mid-send (aiohttp cancels handlers at shutdown) burns the
        cut bytes like any failed sync: nothing was acknowledged, `_in_send` and `_sending` are
        released on the way out, and later syncs take higher offsets (test_master_sync.py)."""
        item.allocations = self._cut(item.lengths)
        ready = self._encode([item])
        try:
            await self._send_in_turn(ready)
        except Exception as exc:
            self._failed(ready.items, exc)

    async def _send_in_turn(self, ready: _Prepared) -> None:
        """`_send` once no other sync message is with the peer (FIFO among waiters)."""
        self._in_send += 1
        try:
            async with self._sending:
                await self._send(ready)
        finally:
            self._in_send -= 1

    async def run(self) -> None:
        """Drain pending reservations until cancelled, one sync in flight.

        Two stages run concurrently: `_prepare_loop` reserves and encodes batch N+1 while
        `_send_loop` waits for the peer to confirm batch N, so this KME's reservation commit
        overlaps with the peer's assignment commit. Both stages are FIFO, so offsets still
        reach the peer in order.
        """
        prepared: asyncio.Queue[_Prepared] = asyncio.Queue(maxsize=1)
        self._prepared = prepared
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._prepare_loop(prepared), name=f"prepare:{self._link_id}")
                group.create_task(self._send_loop(prepared), name=f"send:{self._link_id}")
        finally:
            self._prepared = None
            shutdown = PeerKmeError("KME shut down during synchronisation")
            while not prepared.empty():
                for item in prepared.get_nowait().items:
                    _fail(item, shutdown)
            while self._pending:
                _fail(self._pending.popleft(), shutdown)

    def _next_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        count = 0
        while self._pending and (
            not batch or count + len(self._pending[0].lengths) <= _MAX_KEYS_PER_SYNC
        ):
            item = self._pending.popleft()
            batch.append(item)
            count += len(item.lengths)
        return batch

    def _failed(self, batch: Sequence[_Pending], exc: BaseException) -> None:
        """Fail a batch after an unexpected error; its reserved bytes stay burned."""
        failure = exc if isinstance(exc, KeyStoreError) else PeerKmeError("synchronisation failed")
        for item in batch:
            _fail(item, failure)
        # Type only: the exception's context could hold key material.
        _log.error("sync of link %s failed: %s", self._link_id, type(exc).__name__)

    async def _prepare_loop(self, prepared: asyncio.Queue[_Prepared]) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._next_batch()
                self._preparing = True
                try:
                    ready = await self._prepare(batch)
                    if ready is not None:
                        await prepared.put(ready)
                except Exception as exc:
                    self._failed(batch, exc)
                finally:
                    self._preparing = False

    async def _send_loop(self, prepared: asyncio.Queue[_Prepared]) -> None:
        while True:
            ready = await prepared.get()
            try:
                await self._send_in_turn(ready)
            except asyncio.CancelledError:
                for item in ready.items:
                    _fail(item, PeerKmeError("KME shut down during synchronisation"))
                raise
            except Exception as exc:
                self._failed(ready.items, exc)

    async def _refill(self, need: int) -> None:
        """Make the spare range hold at least `need` bytes, with one store reservation.

        Reserving ahead (at least `_RESERVE_AHEAD` bytes) takes the reservation's durable
        commit off most requests. Spare bytes are consumed in the store already, so a crash
        burns them (never reused); a spare tail that is not contiguous with a new range is
        burned the same way.

        Raises:
            KeyExhaustedError: the pool holds fewer than `need` bytes.
        """
        if len(self._spare) >= need:
            return
        want = max(need, _RESERVE_AHEAD)
        try:
            fresh = (await self._store.reserve(self._link_id, self._partition, [want]))[0]
        except KeyExhaustedError:
            if want == need:
                raise
            fresh = (await self._store.reserve(self._link_id, self._partition, [need]))[0]
        if fresh.offset == self._spare_offset + len(self._spare):
            self._spare += fresh.material
        else:
            self._spare_offset, self._spare = fresh.offset, fresh.material

    def _cut(self, lengths: Sequence[int]) -> list[Allocation]:
        allocations = []
        position = 0
        for length in lengths:
            material = self._spare[position : position + length]
            allocations.append(Allocation(self._spare_offset + position, material))
            position += length
        self._spare = self._spare[position:]
        self._spare_offset += position
        return allocations

    async def _reserve_batch(self, batch: list[_Pending]) -> list[_Pending]:
        """Allocate every item from the spare range, refilled once for the whole batch; if
        the pool cannot cover the batch, item by item in order."""
        try:
            await self._refill(sum(n for item in batch for n in item.lengths))
        except KeyExhaustedError:
            reserved = []
            for item in batch:
                try:
                    await self._refill(sum(item.lengths))
                except KeyExhaustedError as exc:
                    _fail(item, exc)
                    continue
                item.allocations = self._cut(item.lengths)
                reserved.append(item)
            return reserved
        for item in batch:
            item.allocations = self._cut(item.lengths)
        return batch

    async def _prepare(self, batch: list[_Pending]) -> _Prepared | None:
        """Reserve the batch's bytes, give the keys IDs, encode the sync message."""
        reserved = await self._reserve_batch(batch)
        if not reserved:
            return None
        return self._encode(reserved)

    def _encode(self, reserved: list[_Pending]) -> _Prepared:
        """Give reserved requests their key IDs and encode their sync message."""
        groups = []
        for item in reserved:
            item.key_ids = new_key_ids(len(item.allocations))
            keys = tuple(
                KeyAssignment(key_id, alloc.offset, len(alloc.material))
                for key_id, alloc in zip(item.key_ids, item.allocations, strict=True)
            )
            groups.append(AssignGroup(item.master_sae_id, item.slave_sae_ids, keys))
        message = encode_assign(AssignMessage(self._partition, tuple(groups)))
        return _Prepared(reserved, message)

    async def _send(self, ready: _Prepared) -> None:
        """Send one sync message; answer its SAE requests once the peer confirmed."""
        reserved = ready.items
        sent = sum(len(item.allocations) for item in reserved)
        try:
            answer = await self._peer.post(self._assign_path, ready.message)
            if answer.get("assigned") != sent:
                raise PeerKmeError("peer KME confirmed another number of keys")
        except PeerKmeError as exc:
            # The reserved bytes stay consumed (burned): the peer may have applied them.
            # Our own message (status or exception type), never the peer's text.
            _log.warning("peer did not confirm a sync of link %s: %s", self._link_id, exc)
            for item in reserved:
                _fail(item, exc)
            return
        for item in reserved:
            if not item.future.done():  # a cancelled SAE request: its keys are simply unused
                item.future.set_result(
                    [
                        StoredKey(key_id, alloc.material)
                        for key_id, alloc in zip(item.key_ids, item.allocations, strict=True)
                    ]
                )
