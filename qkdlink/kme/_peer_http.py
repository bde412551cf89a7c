"""The KME-to-KME HTTP client: one keep-alive HTTP/1.1 connection over mutual TLS per peer.

Why not aiohttp's `ClientSession`: every enc_keys waits for one small POST to the peer, and the
session's request machinery costs several times this client's CPU per POST (docs/kme.md). The
answer is parsed by `httptools` (bindings to llhttp, Node.js's HTTP parser, as in uvicorn), fed
straight from an `asyncio.Protocol`. The peer is another qkdlink KME (an aiohttp server), so on
top of llhttp's strict parsing the client accepts only what that server sends: an HTTP/1.1
final answer with one Content-Length, a head of at most 16 KiB and a body of at most 64 KiB.
Anything else (chunked or upgraded answers, bytes nobody asked for) is refused as
`PeerHttpError`, and the connection is dropped after any failure, because its state is then
unknown (RFC 9112 9.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from typing import cast
from urllib.parse import urlsplit

import httptools

from qkdlink.errors import ConfigurationError, LocalProtocolError, PeerKmeError

__all__ = ["MAX_ANSWER_BYTES", "PeerHttpConnection", "PeerHttpError", "is_request_path"]

MAX_ANSWER_BYTES = 64 * 1024
"""Cap on a peer's answer body (it answers {"assigned": n} or a short Error body)."""
_MAX_HEAD_BYTES = 16 * 1024
"""Cap on a peer's status line and headers (aiohttp sends about 200 bytes)."""
_IDLE_REUSE_S = 30.0
"""A connection idle longer than this is replaced rather than reused: servers and middleboxes
drop idle connections (aiohttp after its keepalive_timeout, 3630 s by default in 3.14),
and a request written into a connection the peer is closing would fail."""

_PATH = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]*)*")
"""An absolute path of RFC 3986 3.3 characters: no space, CR, LF or other byte that could end
the request line or start a header (request smuggling through a configured URL)."""
_AUTHORITY = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?::[0-9]{1,5})?")
"""host[:port] with an ASCII host name, IPv4 or bracketed IPv6 address (RFC 3986 3.2.2)."""


def is_request_path(path: str) -> bool:
    """`path` is an absolute URL path that cannot break the request line (see `_PATH`)."""
    return path.startswith("/") and _PATH.fullmatch(path) is not None


class PeerHttpError(PeerKmeError):
    """The peer's answer is not an HTTP/1.1 response this client accepts, or never came whole."""


class _AnswerReader(asyncio.Protocol):
    """One TLS connection: writes a request, feeds the answer's bytes to llhttp, one at a time.

    The parser lives as long as the connection (llhttp keeps its state across keep-alive
    answers); the per-answer fields are reset by `exchange`.
    """

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._closed = asyncio.get_running_loop().create_future()
        self.broken = False
        """No further request may be written: closed, failed, or sent bytes nobody asked for."""
        self.keep_alive = True
        """The last answer lets the connection be reused (HTTP/1.1, no Connection: close)."""
        self._head_bytes = 0
        self._head_complete = False
        self._complete = False
        self._length: int | None = None
        self._body: list[bytes] = []

    def exchange(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write `request`; the future resolves to the answer's status and body."""
        transport = self._transport
        if transport is None or self.broken:
            raise PeerHttpError("connection closed before the request")
        self._head_bytes = 0
        self._head_complete = self._complete = False
        self._length = None
        self._body = []
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        transport.write(request)
        return waiter

    def abort(self) -> None:
        """Drop the connection at once (no TLS close_notify wait: it may be broken)."""
        self.broken = True
        if self._transport is not None:
            self._transport.abort()

    def is_closing(self) -> bool:
        """No further request may be written on this connection."""
        return self.broken or self._transport is None or self._transport.is_closing()

    async def aclose(self) -> None:
        """Close with TLS close_notify, waiting at most a second for the peer's side."""
        self.broken = True
        if self._transport is not None:
            self._transport.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._closed

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TLS stream transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        if not self._closed.done():
            self._closed.set_result(None)
        self._fail(PeerHttpError("connection closed before the whole answer"), exc)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            # A late answer after a timeout or cancellation, or bytes after the answer: they
            # must never be read as the next request's answer.
            self.abort()
            return
        try:
            if self._in_head():
                # Feed at most the head budget until llhttp has seen the whole head.
                budget = _MAX_HEAD_BYTES - self._head_bytes
                self._head_bytes += min(len(data), budget)
                self._parser.feed_data(data[:budget])
                if self._in_head():
                    if self._head_bytes >= _MAX_HEAD_BYTES:
                        raise PeerHttpError("answer head too large")
                    return
                data = data[budget:]
            if data:
                self._parser.feed_data(data)
        except PeerHttpError as exc:
            self._fail(exc)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # A refusal raised in a callback below reaches here as its __context__.
            refusal = exc.__context__
            if isinstance(refusal, PeerHttpError):
                self._fail(refusal)
            else:
                self._fail(PeerHttpError("malformed answer"), exc)
        else:
            if self._complete:
                self._waiter = None
                waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))

    def _in_head(self) -> bool:
        """llhttp has not yet seen the whole head of the current answer (set by a callback)."""
        return not self._head_complete

    def eof_received(self) -> bool:
        self.broken = True
        return False  # close the connection; connection_lost fails an unfinished answer

    def _fail(self, error: PeerHttpError, cause: BaseException | None = None) -> None:
        waiter, self._waiter = self._waiter, None
        self.abort()
        if waiter is not None and not waiter.done():
            error.__cause__ = cause
            waiter.set_exception(error)

    # --- httptools callbacks (a raised PeerHttpError aborts the parse) -------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            raise PeerHttpError("bytes after the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            # llhttp has checked the value (digits only, no conflicting repeat).
            if self._length is not None:
                raise PeerHttpError("repeated Content-Length")
            self._length = int(value)
        elif name == b"transfer-encoding":
            raise PeerHttpError("Transfer-Encoding is not supported")

    def on_headers_complete(self) -> None:
        self._head_complete = True
        parser = self._parser
        if parser.get_http_version() != "1.1":
            raise PeerHttpError("not an HTTP/1.1 answer")
        # The peer answers a POST with a final status, never 1xx nor an upgrade.
        if parser.get_status_code() < 200 or parser.should_upgrade():
            raise PeerHttpError("interim or upgrade answer")
        if self._length is None:
            raise PeerHttpError("no Content-Length")
        if self._length > MAX_ANSWER_BYTES:
            raise PeerHttpError("answer is too large")
        self.keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete = True


class PeerHttpConnection:
    """POSTs to one peer KME over a reused mutual-TLS connection, one request at a time.

    `ssl_context` decides whom the client talks to (see `client_ssl_context`): a handshake that
    fails its checks fails the request before any byte of it is written.
    """

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext) -> None:
        parts = urlsplit(base_url)
        try:
            port = 443 if parts.port is None else parts.port
        except ValueError as exc:
            raise ConfigurationError(f"peer KME URL has a bad port: {base_url!r}") from exc
        if port == 0:
            # Port 0 asks the OS for any port when binding; as a destination it is meaningless.
            raise ConfigurationError(f"peer KME URL has port 0: {base_url!r}")
        if (
            parts.scheme != "https"
            or not parts.hostname
            or parts.query
            or parts.fragment
            or not _AUTHORITY.fullmatch(parts.netloc)
            or not _PATH.fullmatch(parts.path)
        ):
            raise ConfigurationError(
                f"peer KME URL must be https://host[:port][/path]: {base_url!r}"
            )
        self._host = parts.hostname
        self._port = port
        self._request_start = b"POST " + parts.path.rstrip("/").encode("ascii")
        self._request_head = (
            b" HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: "
            % parts.netloc.encode("ascii")
        )
        self._ssl = ssl_context
        self._lock = asyncio.Lock()
        self._connection: _AnswerReader | None = None
        self._last_used = 0.0

    async def _connected(self) -> _AnswerReader:
        connection = self._connection
        if connection is not None:
            if not connection.is_closing() and time.monotonic() - self._last_used < _IDLE_REUSE_S:
                return connection
            self._drop()
        _, connection = await asyncio.get_running_loop().create_connection(
            _AnswerReader, self._host, self._port, ssl=self._ssl, server_hostname=self._host
        )
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abort()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST `body` (JSON) to `path` under the base URL; return the status and the body.

        Raises:
            LocalProtocolError: `path` is not an absolute path of URL characters (a bug of the
                caller, not a peer failure: callers check fixed paths with `is_request_path`).
            OSError: the connection or the TLS handshake failed (`ssl.SSLError` included).
            PeerHttpError: the answer is malformed, truncated or too large.
        """
        if not is_request_path(path):
            raise LocalProtocolError("peer request path must be an absolute URL path")
        request = b"%s%s%s%d\r\n\r\n%s" % (
            self._request_start,
            path.encode("ascii"),
            self._request_head,
            len(body),
            body,
        )
        async with self._lock:
            try:
                connection = await self._connected()
                status, answer = await connection.exchange(request)
            except BaseException:
                # Failed, timed out or cancelled mid-exchange: an answer may still be on its way.
                self._drop()
                raise
            if not connection.keep_alive:
                self._drop()
            self._last_used = time.monotonic()
        return status, answer

    async def aclose(self) -> None:
        """Close the connection (TLS close_notify sent, not awaited beyond a short bound)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.aclose()
