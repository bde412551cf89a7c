"""The KME-to-KME HTTP client: one keep-alive HTTP/1.1 connection over mutual TLS per peer.

Why not aiohttp's `ClientSession`: every enc_keys waits for one small POST to the peer, and the
session's request machinery cost about 0.27 ms of CPU per POST more than this client on
loopback (0.50 vs 0.23 ms for the same request to the same aiohttp server, TLS included). The
peer is another qkdlink KME (an aiohttp server), so the client needs only what that server
sends: a status line, headers with a Content-Length, and a short body. Anything else (chunked
bodies, oversized heads or bodies, malformed lines) is refused as `PeerHttpError`, and the
connection is dropped after any failure, because its state is then unknown (RFC 9112 9.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from urllib.parse import urlsplit

from qkdlink.errors import ConfigurationError

__all__ = ["MAX_ANSWER_BYTES", "PeerHttpConnection", "PeerHttpError"]

MAX_ANSWER_BYTES = 64 * 1024
"""Cap on a peer's answer body (it answers {"assigned": n} or a short Error body)."""
_MAX_HEAD_BYTES = 16 * 1024
"""Cap on a peer's status line and headers (aiohttp sends about 200 bytes)."""
_IDLE_REUSE_S = 30.0
"""A connection idle longer than this is replaced rather than reused: servers and middleboxes
drop idle connections (aiohttp after its keepalive_timeout, 3630 s by default in 3.14),
and a request written into a connection the peer is closing would fail."""


class PeerHttpError(Exception):
    """The peer's answer is not an HTTP/1.1 response this client accepts."""


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the peer closes the connection, from a response head.

    Raises:
        PeerHttpError: malformed status line or header, no or a repeated Content-Length,
            a Transfer-Encoding (never sent by the peer for its fixed-size answers).
    """
    status_line, *lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if version != b"HTTP/1.1" or len(code) != 3 or not code.isdigit():
        raise PeerHttpError("malformed status line")
    length: int | None = None
    close = False
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise PeerHttpError("malformed header line")
        name, value = name.lower(), value.strip()
        if name == b"content-length":
            if length is not None or not value.isdigit():
                raise PeerHttpError("bad Content-Length")
            length = int(value)
        elif name == b"transfer-encoding":
            raise PeerHttpError("Transfer-Encoding is not supported")
        elif name == b"connection":
            close = b"close" in value.lower()
    if length is None:
        raise PeerHttpError("no Content-Length")
    if length > MAX_ANSWER_BYTES:
        raise PeerHttpError("answer is too large")
    return int(code), length, close


class PeerHttpConnection:
    """POSTs to one peer KME over a reused mutual-TLS connection, one request at a time.

    `ssl_context` decides whom the client talks to (see `client_ssl_context`): a handshake that
    fails its checks fails the request before any byte of it is written.
    """

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigurationError(f"peer KME URL must be https://host[:port]: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 443
        self._prefix = parts.path.rstrip("/")
        self._host_header = parts.netloc.encode("idna")
        self._ssl = ssl_context
        self._lock = asyncio.Lock()
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last_used = 0.0

    async def _connected(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        stream = self._stream
        if stream is not None:
            reader, writer = stream
            idle = time.monotonic() - self._last_used
            if not reader.at_eof() and not writer.is_closing() and idle < _IDLE_REUSE_S:
                return stream
            self._drop()
        self._stream = await asyncio.open_connection(
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host,
            limit=_MAX_HEAD_BYTES,
        )
        self._last_used = time.monotonic()
        return self._stream

    def _drop(self) -> None:
        """Forget the connection at once (no TLS close_notify wait: it may be broken)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream[1].transport.abort()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST `body` (JSON) to `path` under the base URL; return the status and the body.

        Raises:
            OSError: the connection or the TLS handshake failed (`ssl.SSLError` included).
            PeerHttpError: the answer is malformed, truncated or too large.
        """
        request = b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n" % (
            (self._prefix + path).encode("ascii"),
            self._host_header,
        )
        request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        async with self._lock:
            try:
                reader, writer = await self._connected()
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, close = _parse_head(head)
                answer = await reader.readexactly(length)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                self._drop()
                raise PeerHttpError("answer truncated or head too large") from exc
            except BaseException:
                # Cancelled or failed mid-exchange: an answer may still be on its way.
                self._drop()
                raise
            if close:
                self._drop()
            self._last_used = time.monotonic()
        return status, answer

    async def aclose(self) -> None:
        """Close the connection (TLS close_notify sent, not awaited beyond a short bound)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        writer = stream[1]
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()
