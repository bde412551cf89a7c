"""The party mesh: N parties, one message link per pair, tagged messages, collectives, seeds.

Messages carry a tag naming the protocol step (as MPyC labels each message with its program
counter), so concurrent steps never mix: `recv(peer, tag)` returns exactly the message `peer`
sent under `tag`, whatever order messages arrive in. A tag is used once per direction; a repeat,
or a payload of the wrong kind, dtype or shape, is an `UnexpectedMessageError`.

Unknown tags. A message under a tag nobody has asked for yet is kept (a peer may run ahead, as
MPyC buffers future program counters), up to `max_pending` per peer. It becomes an
`UnknownTagError` naming the peer and the tags (no payloads) when it can no longer be a message
for later:
- with `tag_prefixes`, a tag outside them is refused on arrival (the link is given up);
- a receive that times out while the peer is alive but has sent unclaimed messages: the two run
  different steps, so the error names those tags instead of claiming the peer disconnected;
- closing: messages still unclaimed are a protocol bug. Leaving `async with` normally raises
  `UnknownTagError` once the mesh is closed; leaving with an error, or calling `aclose()`,
  logs a warning instead (so the real error is never masked). Only messages that arrived are
  seen: ending with `barrier()` makes the check complete (links are ordered).

A peer whose link breaks (or who closed), or who stays silent past `recv_timeout` with nothing
unclaimed, or stops taking messages past `send_timeout`, yields `PartyDisconnectedError` naming
it; nothing waits forever. Using a closed mesh is `ChannelClosedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from qkdlink._aclose import AsyncClosing
from qkdlink.errors import (
    ChannelClosedError,
    ChannelError,
    ConfigurationError,
    LocalProtocolError,
    MeshError,
    PartyDisconnectedError,
    QkdlinkError,
    RemoteProtocolError,
    TransportError,
    UnexpectedMessageError,
    UnknownTagError,
)
from qkdlink.keyprovider import KeyProvider
from qkdlink.mesh._config import MeshConfig
from qkdlink.mesh._link import MeshTransport, MessageLink
from qkdlink.mesh._wire import Header, Kind, WireError, check_dtype, decode_header, encode_header
from qkdlink.randomness import (
    CommonCoins,
    GroupSeed,
    PairSeed,
    Prss,
    Przs,
    ReplicatedSeeds,
    SeedLedger,
    agree_group_seed,
    agree_pair_seed,
)

__all__ = ["Mesh", "PeerStats"]

_INTERNAL_PREFIXES = ("__", "seed/", "group-seed/")
_HELLO_TAG = "__hello__"
_FEW_TAGS = 5
"""Unclaimed tags named in an error or warning (the count says how many more there are)."""

_log = logging.getLogger("qkdlink.mesh")


@dataclass(slots=True)
class PeerStats:
    """Traffic with one peer, counted by this party."""

    bytes_sent: int = 0
    """Payload and header bytes handed to the link."""
    bytes_received: int = 0
    """Payload and header bytes taken from the link."""
    messages_sent: int = 0
    """Mesh messages sent."""
    messages_received: int = 0
    """Mesh messages received."""
    seed_keys: int = 0
    """QKD keys of this link consumed for seeds (see `Mesh.ledger` for purposes)."""
    link_stats: object | None = None
    """The link's own statistics (a qkdlink `Channel` reports handshake and rekey keys)."""


class _RecentTags:
    """The most recently consumed tags of one peer (bounded: long runs must not grow memory).

    A tag older than the window is forgotten; the channel's own anti-replay still refuses any
    replayed record, so this only bounds how far back a misbehaving peer's repeat is noticed.
    """

    __slots__ = ("_order", "_seen")

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    def add(self, tag: str, limit: int) -> None:
        self._seen.add(tag)
        self._order.append(tag)
        while len(self._order) > limit:
            self._seen.discard(self._order.popleft())

    def __contains__(self, tag: object) -> bool:
        return tag in self._seen


@dataclass(slots=True)
class _Message:
    header: Header
    payload: bytes


@dataclass(slots=True)
class _Peer:
    name: str
    link: MessageLink
    stats: PeerStats = field(default_factory=PeerStats)
    inbox: dict[str, _Message] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[_Message]] = field(default_factory=dict)
    consumed: _RecentTags = field(default_factory=_RecentTags)
    sent: _RecentTags = field(default_factory=_RecentTags)
    settled: bool = False
    """An error about this peer reached the caller, who thus knows its exchange failed: what it
    left unclaimed is only logged at close, never raised again."""
    error: QkdlinkError | None = None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: asyncio.Task[None] | None = None


@contextlib.contextmanager
def _settling(peer: _Peer) -> Iterator[None]:
    """Marks `peer` settled if an error about it (not a local misuse) leaves the block."""
    try:
        yield
    except (MeshError, RemoteProtocolError):
        peer.settled = True
        raise


def _some_tags(tags: Sequence[str]) -> str:
    shown = ", ".join(repr(t) for t in tags[:_FEW_TAGS])
    more = len(tags) - _FEW_TAGS
    return shown + (f" and {more} more" if more > 0 else "")


def _unclaimed_error(party: str, tags: Sequence[str], what: str) -> UnknownTagError:
    """`what`, and the tags (some of them) of messages `party` sent that nobody received."""
    return UnknownTagError(
        party,
        tags[:_FEW_TAGS],
        f"{what}; party {party!r} sent {len(tags)} message(s) nobody received, under "
        + _some_tags(tags),
    )


class Mesh(AsyncClosing):
    """One party's end of a full mesh; use as `async with Mesh(config, transport) as mesh`."""

    def __init__(
        self,
        config: MeshConfig,
        transport: MeshTransport,
        *,
        keys: KeyProvider | None = None,
        ledger: SeedLedger | None = None,
        tag_prefixes: Sequence[str] = (),
    ) -> None:
        """`keys` provides QKD keys for seeds; `tag_prefixes`, if given, are the only tags
        (besides the mesh's own) a peer may use: anything else is refused on arrival."""
        self._config = config
        self._transport = transport
        self._keys = keys
        self._ledger = ledger if ledger is not None else SeedLedger()
        self._prefixes = tuple(tag_prefixes)
        self._peers: dict[str, _Peer] = {}
        self._all_connected = asyncio.Event()
        self._counters: dict[str, itertools.count[int]] = {}
        self._closed = False
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def config(self) -> MeshConfig:
        """This party's configuration."""
        return self._config

    @property
    def party(self) -> str:
        """This party's id."""
        return self._config.party

    @property
    def peers(self) -> tuple[str, ...]:
        """The other parties, in rank order."""
        return self._config.peers

    @property
    def ledger(self) -> SeedLedger:
        """Every QKD key this party turned into a seed, with its purpose."""
        return self._ledger

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def start(self) -> None:
        """Listen for lower-ranked peers, dial higher-ranked ones (with retry), say hello.

        Raises:
            PartyDisconnectedError: a peer did not connect within `connect_timeout`.
            TransportError: this party cannot listen.
        """
        if self._started:
            raise LocalProtocolError("mesh already started")
        self._started = True
        cfg = self._config
        deadline = time.monotonic() + cfg.connect_timeout
        try:
            await self._transport.listen(self._on_link)
            higher = cfg.parties[cfg.rank + 1 :]
            dials = [
                asyncio.create_task(self._dial(p, deadline), name=f"mesh-{cfg.party}-dial-{p}")
                for p in higher
            ]
            try:
                await asyncio.gather(*dials)
            finally:
                # One failed dial fails the start: the others must not go on and open links
                # for a mesh that is being closed.
                for dial in dials:
                    dial.cancel()
                await asyncio.gather(*dials, return_exceptions=True)
            remaining = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(self._all_connected.wait(), remaining)
            except TimeoutError:
                missing = next(p for p in cfg.peers if p not in self._peers)
                raise PartyDisconnectedError(
                    missing, f"did not connect within {cfg.connect_timeout:g} s"
                ) from None
        except BaseException:
            await self.aclose()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close; after a block that ended normally, messages left unclaimed raise.

        Raises:
            UnknownTagError: a peer sent messages nobody received (raised once all is closed).
        """
        unclaimed = await self._shutdown()
        if exc is None and unclaimed:
            first = next(iter(unclaimed))
            others = [p for p in unclaimed if p != first]
            also = f"; also from {', '.join(map(repr, others))}" if others else ""
            raise _unclaimed_error(
                first, unclaimed[first], f"mesh closed with messages left unreceived{also}"
            )
        self._warn_unclaimed(unclaimed)

    async def aclose(self) -> None:
        """Close every link and stop listening (idempotent; pending receives fail).

        Each link gets at most `send_timeout` to close, so a stalled peer cannot hold this up.
        Messages peers sent that nobody received are logged as a warning (tags, no payloads).
        """
        self._warn_unclaimed(await self._shutdown())

    def _warn_unclaimed(self, unclaimed: Mapping[str, Sequence[str]]) -> None:
        for name, tags in unclaimed.items():
            _log.warning(
                "mesh %r, party %r: %d message(s) from %r never received, under %s",
                self._config.mesh_id,
                self.party,
                len(tags),
                name,
                _some_tags(tags),
            )

    async def _shutdown(self) -> dict[str, list[str]]:
        """Close everything (once); return per peer, in rank order, the unclaimed tags of peers
        not settled (and log those of settled ones)."""
        if self._closed:
            return {}
        self._closed = True
        for peer in self._peers.values():
            if peer.reader is not None:
                peer.reader.cancel()
            self._fail(peer, ChannelClosedError("mesh closed by this party"))
        for peer in self._peers.values():
            if peer.reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await peer.reader
            # Bounded: closing a link may flush to a peer that no longer reads.
            with contextlib.suppress(QkdlinkError, OSError, TimeoutError):
                async with asyncio.timeout(self._config.send_timeout):
                    await peer.link.aclose()
        with contextlib.suppress(QkdlinkError, OSError):
            await self._transport.aclose()
        unclaimed: dict[str, list[str]] = {}
        settled: dict[str, list[str]] = {}
        for name in self.peers:
            left = self._peers.get(name)
            if left is not None and left.inbox:
                (settled if left.settled else unclaimed)[name] = list(left.inbox)
        self._warn_unclaimed(settled)
        return unclaimed

    def _hello(self) -> bytes:
        body = json.dumps({"mesh": self._config.mesh_id, "party": self._config.party}).encode()
        return encode_header(Kind.BYTES, _HELLO_TAG, len(body), inline=body)

    def _parse_hello(self, record: bytes, link: MessageLink) -> str:
        try:
            header = decode_header(record, max_payload=4096)
            if header.tag != _HELLO_TAG or header.inline is None:
                raise WireError("expected a hello")
            body = json.loads(header.inline)
            mesh, party = body["mesh"], body["party"]
        except (WireError, ValueError, KeyError, TypeError) as exc:
            raise RemoteProtocolError("malformed mesh hello") from exc
        if mesh != self._config.mesh_id or party not in self._config.peers:
            raise RemoteProtocolError("hello from a party outside this mesh")
        # A link that authenticated its peer (a qkdlink Channel) names it: the hello may not
        # claim another party, or one authenticated party could take another's place.
        authenticated = getattr(link, "peer_id", None)
        if authenticated is not None and authenticated != party:
            raise RemoteProtocolError("hello names another party than the link authenticated")
        return str(party)

    async def _dial(self, peer: str, deadline: float) -> None:
        while True:
            try:
                link = await self._transport.dial(peer)
                break
            except TransportError:
                if time.monotonic() + self._config.retry_interval > deadline:
                    raise PartyDisconnectedError(
                        peer, f"unreachable for {self._config.connect_timeout:g} s"
                    ) from None
                await asyncio.sleep(self._config.retry_interval)
        try:
            await link.send(self._hello())
            remaining = max(0.01, deadline - time.monotonic())
            answer = await asyncio.wait_for(link.recv(), remaining)
            if self._parse_hello(answer, link) != peer:
                raise RemoteProtocolError("the dialled address answered as another party")
        except (TimeoutError, ChannelError, RemoteProtocolError) as exc:
            await link.aclose()
            raise PartyDisconnectedError(peer, "mesh hello failed") from exc
        self._register(peer, link)

    async def _on_link(self, link: MessageLink) -> None:
        try:
            record = await asyncio.wait_for(link.recv(), self._config.connect_timeout)
            peer = self._parse_hello(record, link)
            if self._config.parties.index(peer) > self._config.rank or peer in self._peers:
                raise RemoteProtocolError("unexpected or duplicate dial")
            await link.send(self._hello())
        except (TimeoutError, ChannelError, RemoteProtocolError):
            # A stranger, a duplicate or a broken dial: drop it; the legitimate peer retries.
            await link.aclose()
            return
        self._register(peer, link)

    def _register(self, name: str, link: MessageLink) -> None:
        peer = _Peer(name, link)
        self._peers[name] = peer
        peer.reader = asyncio.get_running_loop().create_task(
            self._read(peer), name=f"mesh-{self.party}-read-{name}"
        )
        if len(self._peers) == len(self._config.peers):
            self._all_connected.set()

    # --- receiving -------------------------------------------------------------------------------

    async def _read(self, peer: _Peer) -> None:
        cfg = self._config
        try:
            while True:
                record = await peer.link.recv()
                header = decode_header(record, max_payload=cfg.max_message)
                if header.inline is not None:
                    payload = header.inline
                else:
                    payload = await peer.link.recv()
                    if len(payload) != header.payload_len:
                        raise WireError("payload length differs from its header")
                peer.stats.bytes_received += len(record) + (
                    0 if header.inline is not None else len(payload)
                )
                peer.stats.messages_received += 1
                self._deliver(peer, _Message(header, payload))
        except ChannelError as exc:
            err = PartyDisconnectedError(peer.name, "link closed")
            err.__cause__ = exc
            self._fail(peer, err)
        except WireError as exc:
            remote = RemoteProtocolError(f"party {peer.name!r} sent a malformed mesh message")
            remote.__cause__ = exc
            self._fail(peer, remote)
        except UnexpectedMessageError as exc:
            self._fail(peer, exc)
        except (QkdlinkError, OSError) as exc:
            # Any other failure of the link (authentication, transport, rekey): the peer is gone
            # for this mesh; waiters must hear it now, not at their timeout.
            err = PartyDisconnectedError(peer.name, f"link failed ({type(exc).__name__})")
            err.__cause__ = exc
            self._fail(peer, err)

    def _deliver(self, peer: _Peer, message: _Message) -> None:
        tag = message.header.tag
        if tag in peer.consumed or tag in peer.inbox:
            raise UnexpectedMessageError(f"party {peer.name!r} sent tag {tag!r} twice")
        if self._prefixes and not tag.startswith(self._prefixes + _INTERNAL_PREFIXES):
            raise UnknownTagError(
                peer.name,
                (tag,),
                f"party {peer.name!r} sent unknown tag {tag!r} (outside tag_prefixes)",
            )
        waiter = peer.waiters.pop(tag, None)
        if waiter is not None and not waiter.done():
            peer.consumed.add(tag, self._config.remembered_tags)
            waiter.set_result(message)
            return
        if len(peer.inbox) >= self._config.max_pending:
            raise _unclaimed_error(
                peer.name,
                list(peer.inbox),
                f"more than max_pending={self._config.max_pending} unclaimed",
            )
        peer.inbox[tag] = message

    def _fail(self, peer: _Peer, error: QkdlinkError) -> None:
        if peer.error is None:
            peer.error = error
        for waiter in peer.waiters.values():
            if not waiter.done():
                waiter.set_exception(peer.error)
        peer.waiters.clear()

    def _peer(self, name: str) -> _Peer:
        if self._closed:
            raise ChannelClosedError("mesh closed by this party")
        try:
            return self._peers[name]
        except KeyError:
            raise LocalProtocolError(f"{name!r} is not a connected peer") from None

    async def _recv_message(self, name: str, tag: str, *, patient: bool = False) -> _Message:
        peer = self._peer(name)
        with _settling(peer):
            return await self._take(peer, tag, patient)

    async def _take(self, peer: _Peer, tag: str, patient: bool) -> _Message:
        name = peer.name
        message = peer.inbox.pop(tag, None)
        if message is not None:
            peer.consumed.add(tag, self._config.remembered_tags)
            return message
        if tag in peer.consumed:
            raise LocalProtocolError(f"tag {tag!r} from {name!r} was already received")
        if peer.error is not None:
            raise peer.error
        if tag in peer.waiters:
            raise LocalProtocolError(f"two receives wait for tag {tag!r} from {name!r}")
        waiter: asyncio.Future[_Message] = asyncio.get_running_loop().create_future()
        peer.waiters[tag] = waiter
        timeout = None if patient else self._config.recv_timeout
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            silent = f"no message {tag!r} within {timeout:g} s"
            if not peer.inbox:
                raise PartyDisconnectedError(name, silent) from None
            # The peer is alive and talking, under other tags: a protocol mismatch, not a leave.
            raise _unclaimed_error(name, list(peer.inbox), silent) from None
        finally:
            if peer.waiters.get(tag) is waiter:
                del peer.waiters[tag]

    async def recv(self, peer: str, tag: str, *, patient: bool = False) -> bytes:
        """The bytes `peer` sent under `tag`.

        `patient=True` waits without the `recv_timeout` (for messages that may never come, such
        as a tunnel's next stream); a broken link still ends the wait at once.

        Raises:
            PartyDisconnectedError: the peer left, broke its link or was silent for recv_timeout.
            UnknownTagError: no message under `tag` within recv_timeout, but the peer sent others
                that nobody received (or a tag outside `tag_prefixes`).
            UnexpectedMessageError: the message under `tag` is an array, or the peer misbehaved.
            RemoteProtocolError: the peer sent a malformed message.
            ChannelClosedError: this mesh is closed.
        """
        message = await self._recv_message(peer, tag, patient=patient)
        if message.header.kind is not Kind.BYTES:
            raise self._about(
                peer,
                UnexpectedMessageError(f"expected bytes under {tag!r} from {peer!r}, got array"),
            )
        return message.payload

    async def recv_array(
        self,
        peer: str,
        tag: str,
        *,
        dtype: npt.DTypeLike | None = None,
        shape: tuple[int, ...] | None = None,
    ) -> npt.NDArray[np.generic]:
        """The array `peer` sent under `tag` (read-only: it views the received buffer).

        Raises:
            UnexpectedMessageError: bytes arrived, or the dtype/shape differ from those given.
            UnknownTagError: as for `recv`.
            PartyDisconnectedError: the peer left, broke its link or was silent for recv_timeout.
            ChannelClosedError: this mesh is closed.
        """
        message = await self._recv_message(peer, tag)
        header = message.header
        got = np.dtype(header.dtype) if header.kind is Kind.ARRAY else None
        where = f"under {tag!r} from {peer!r}"
        if got is None:
            problem = f"expected an array {where}, got bytes"
        elif dtype is not None and got != np.dtype(dtype):
            problem = f"the array {where} has dtype {got}, expected {np.dtype(dtype)}"
        elif shape is not None and header.shape != tuple(shape):
            problem = f"the array {where} has shape {header.shape}, expected {tuple(shape)}"
        else:
            return np.frombuffer(message.payload, dtype=got).reshape(header.shape)
        raise self._about(peer, UnexpectedMessageError(problem))

    def _about(self, name: str, error: QkdlinkError) -> QkdlinkError:
        """`error`, about peer `name`, goes to the caller: the peer is settled (`_Peer.settled`)."""
        self._peers[name].settled = True
        return error

    # --- sending ---------------------------------------------------------------------------------

    async def _send(
        self,
        name: str,
        kind: Kind,
        tag: str,
        payload: bytes | memoryview,
        dtype: str = "",
        shape: tuple[int, ...] = (),
    ) -> None:
        peer = self._peer(name)
        with _settling(peer):
            await self._put(peer, kind, tag, payload, dtype, shape)

    async def _put(
        self,
        peer: _Peer,
        kind: Kind,
        tag: str,
        payload: bytes | memoryview,
        dtype: str,
        shape: tuple[int, ...],
    ) -> None:
        name = peer.name
        if peer.error is not None:
            raise peer.error
        if tag in peer.sent:
            # The peer would refuse the repeat as misbehaviour and drop the whole link: refuse it
            # here, as the local misuse it is, and keep the link.
            raise LocalProtocolError(f"tag {tag!r} was already sent to {name!r}")
        peer.sent.add(tag, self._config.remembered_tags)
        size = len(payload)
        inline = size <= self._config.inline_limit
        header = encode_header(
            kind, tag, size, dtype=dtype, shape=shape, inline=payload if inline else None
        )
        timeout = self._config.send_timeout
        try:
            # Bounded: a peer that stops reading fills the transport's buffers and would block
            # this send (and every later one, behind the lock) forever.
            async with asyncio.timeout(timeout), peer.send_lock:
                await peer.link.send(header)
                if not inline:
                    await peer.link.send(payload)
        except TimeoutError as exc:
            # The link may hold half a message now: it is unusable, the peer counts as gone.
            err = PartyDisconnectedError(name, f"took no message within {timeout:g} s")
            self._fail(peer, err)
            raise err from exc
        except (QkdlinkError, OSError) as exc:
            err = PartyDisconnectedError(name, "link broke while sending")
            err.__cause__ = exc
            self._fail(peer, err)
            raise err from exc
        peer.stats.bytes_sent += len(header) + (0 if inline else size)
        peer.stats.messages_sent += 1

    async def send(self, peer: str, tag: str, data: bytes | memoryview) -> None:
        """Send bytes to `peer` under `tag` (each tag once per peer).

        Raises:
            LocalProtocolError: `tag` was already sent to `peer`.
            PartyDisconnectedError: the peer's link is broken or it took nothing for send_timeout.
        """
        await self._send(peer, Kind.BYTES, tag, data)

    async def send_array(self, peer: str, tag: str, array: npt.NDArray[np.generic]) -> None:
        """Send a numeric array to `peer` under `tag` (its buffer is not copied if contiguous).

        Raises:
            LocalProtocolError: the dtype is not plain numeric, or `tag` was already sent.
            PartyDisconnectedError: the peer's link is broken or it took nothing for send_timeout.
        """
        dtype = check_dtype(array.dtype)
        contiguous = np.ascontiguousarray(array)
        payload = contiguous.reshape(-1).view(np.uint8).data
        await self._send(peer, Kind.ARRAY, tag, payload, dtype, tuple(contiguous.shape))

    # SeedExchange (qkdlink.randomness) over the mesh.
    async def send_tagged(self, peer: str, tag: str, data: bytes) -> None:
        """`send` under the seed-agreement protocol's name (implements `SeedExchange`)."""
        await self.send(peer, tag, data)

    async def recv_tagged(self, peer: str, tag: str) -> bytes:
        """`recv` under the seed-agreement protocol's name (implements `SeedExchange`)."""
        return await self.recv(peer, tag)

    # --- collectives -----------------------------------------------------------------------------

    def next_tag(self, prefix: str) -> str:
        """`prefix/0`, `prefix/1`, ...: identical at every party that calls in the same order."""
        counter = self._counters.setdefault(prefix, itertools.count())
        return f"{prefix}/{next(counter)}"

    async def broadcast(self, tag: str, data: bytes) -> None:
        """Send the same bytes to every peer.

        Raises:
            PartyDisconnectedError: a peer's link is broken.
        """
        await asyncio.gather(*(self.send(p, tag, data) for p in self.peers))

    async def gather(self, tag: str, data: bytes) -> dict[str, bytes]:
        """Everyone sends `data` to everyone; returns each party's bytes (including ours).

        Raises:
            PartyDisconnectedError: a peer left or timed out.
        """
        _, received = await asyncio.gather(
            self.broadcast(tag, data), asyncio.gather(*(self.recv(p, tag) for p in self.peers))
        )
        result = dict(zip(self.peers, received, strict=True))
        result[self.party] = data
        return {p: result[p] for p in self._config.parties}

    async def gather_arrays(
        self, tag: str, array: npt.NDArray[np.generic]
    ) -> dict[str, npt.NDArray[np.generic]]:
        """Everyone sends `array` to everyone; peers' arrays must match ours in dtype and shape.

        Raises:
            UnexpectedMessageError: a peer's array differs in dtype or shape.
            PartyDisconnectedError: a peer left or timed out.
        """
        return await self.exchange_arrays(tag, dict.fromkeys(self.peers, array), array)

    async def exchange_arrays(
        self,
        tag: str,
        outgoing: Mapping[str, npt.NDArray[np.generic]],
        own: npt.NDArray[np.generic],
    ) -> dict[str, npt.NDArray[np.generic]]:
        """All-to-all: `outgoing[p]` goes to p; returns what each party sent us (`own` for us).

        Every incoming array must have the dtype and shape of `own`.

        Raises:
            UnexpectedMessageError: a peer's array differs in dtype or shape.
            PartyDisconnectedError: a peer left or timed out.
        """
        if set(outgoing) != set(self.peers):
            raise LocalProtocolError("outgoing must have one array per peer")
        _, received = await asyncio.gather(
            asyncio.gather(*(self.send_array(p, tag, outgoing[p]) for p in self.peers)),
            asyncio.gather(
                *(self.recv_array(p, tag, dtype=own.dtype, shape=own.shape) for p in self.peers)
            ),
        )
        result: dict[str, npt.NDArray[np.generic]] = dict(zip(self.peers, received, strict=True))
        result[self.party] = own
        return {p: result[p] for p in self._config.parties}

    async def barrier(self, name: str = "barrier") -> None:
        """Return once every party has reached the barrier of the same name and count.

        Raises:
            PartyDisconnectedError: a peer left or timed out.
        """
        await self.gather(self.next_tag(f"__{name}"), b"")

    # --- statistics ------------------------------------------------------------------------------

    def stats(self) -> dict[str, PeerStats]:
        """Per-peer traffic and key consumption (a snapshot)."""
        by_peer = self._ledger.by_peer()
        out: dict[str, PeerStats] = {}
        for name, peer in self._peers.items():
            snap = PeerStats(
                peer.stats.bytes_sent,
                peer.stats.bytes_received,
                peer.stats.messages_sent,
                peer.stats.messages_received,
                by_peer.get(name, 0),
                getattr(peer.link, "stats", None),
            )
            out[name] = snap
        return out

    # --- correlated randomness from QKD keys -----------------------------------------------------

    def _key_provider(self) -> KeyProvider:
        if self._keys is None:
            raise ConfigurationError("this mesh has no QKD key provider for seeds")
        return self._keys

    async def pair_seed(self, peer: str, purpose: str) -> PairSeed:
        """A fresh seed shared with `peer` for `purpose` (one QKD key from their link).

        The party that fetches the key and cannot get one sends a refusal instead of its ID, so
        both sides fail at once (no wait for `recv_timeout`) and neither derives anything.

        Raises:
            KeyExhaustedError: the link's pool is empty, here or at the peer (the error names
                it); no local randomness replaces the key.
            KeyDeliveryError: the KME failed otherwise, here or at the peer.
            ConfigurationError: the KME's keys are shorter than 256 bits.
            KeyIdError: the peer named an unknown or consumed key ID.
        """
        return await agree_pair_seed(
            self.party, peer, purpose, keys=self._key_provider(), exchange=self, ledger=self._ledger
        )

    async def group_seed(self, members: Sequence[str], purpose: str) -> GroupSeed:
        """A fresh seed shared by `members` (this party among them).

        If the leader cannot agree a pair seed with every member, all members still waiting on
        it get its refusal and fail at once, none with a seed of the group.

        Raises:
            KeyExhaustedError: a link's pool is empty.
            MeshError: the leader gave up because another member failed.
        """
        return await agree_group_seed(
            self.party,
            members,
            purpose,
            keys=self._key_provider(),
            exchange=self,
            ledger=self._ledger,
        )

    async def przs(self, purpose: str) -> Przs:
        """A PRZS generator over all parties (seeds with both ring neighbours).

        Raises:
            KeyExhaustedError: a link's pool is empty.
        """
        parties = self._config.parties
        rank, n = self._config.rank, len(parties)
        neighbours = sorted({parties[(rank + 1) % n], parties[(rank - 1) % n]})
        seeds = await asyncio.gather(*(self.pair_seed(p, f"przs/{purpose}") for p in neighbours))
        return Przs(self.party, parties, {s.peer_of(self.party): s.seed for s in seeds}, purpose)

    async def replicated(self, purpose: str) -> ReplicatedSeeds:
        """Replicated 3-party sharing seeds (exactly three parties).

        Raises:
            KeyExhaustedError: a link's pool is empty.
        """
        if len(self._config.parties) != 3:
            raise ConfigurationError("replicated sharing needs exactly three parties")
        seeds = await asyncio.gather(*(self.pair_seed(p, f"rep/{purpose}") for p in self.peers))
        return ReplicatedSeeds(
            self.party,
            self._config.parties,
            {s.peer_of(self.party): s.seed for s in seeds},
            purpose,
        )

    async def common_coins(self, purpose: str) -> CommonCoins:
        """Coins every party draws identically (a group seed of all parties).

        Raises:
            KeyExhaustedError: a link's pool is empty.
        """
        group = await self.group_seed(self._config.parties, f"coins/{purpose}")
        return CommonCoins(group.seed, purpose)

    async def prss(self, purpose: str, threshold: int) -> Prss:
        """MPyC-style PRSS keys for every subset of n - t parties containing this party.

        Raises:
            KeyExhaustedError: a link's pool is empty.
        """
        parties = self._config.parties
        n = len(parties)
        if not 0 <= threshold < n:
            raise ConfigurationError("need 0 <= threshold < n")
        mine = [
            s for s in itertools.combinations(range(n), n - threshold) if self._config.rank in s
        ]

        async def seed_of(subset: tuple[int, ...]) -> bytes:
            label = f"prss/{purpose}/{'-'.join(map(str, subset))}"
            members = [parties[i] for i in subset]
            if len(members) == 2:
                other = members[1] if members[0] == self.party else members[0]
                return (await self.pair_seed(other, label)).seed
            if len(members) == 1:
                raise ConfigurationError("PRSS with n - t = 1 would need no peer: use t < n - 1")
            return (await self.group_seed(members, label)).seed

        seeds = await asyncio.gather(*(seed_of(s) for s in mine))
        return Prss(self._config.rank, n, threshold, dict(zip(mine, seeds, strict=True)), purpose)
