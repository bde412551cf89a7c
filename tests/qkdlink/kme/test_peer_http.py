"""The peer link's HTTP/1.1 client: keep-alive reuse, reconnection, strict answer checks on top
of llhttp (httptools), and a request line no configured URL can break."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError, LocalProtocolError, PeerKmeError
from qkdlink.kme._config import TlsConfig
from qkdlink.kme._peer_http import (
    MAX_ANSWER_BYTES,
    PeerHttpConnection,
    PeerHttpError,
    is_request_path,
)
from qkdlink.kme._sync import PeerClient
from qkdlink.kme._tls import client_ssl_context, server_ssl_context
from tests.qkdlink.kme._pki import lab_tls

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n"
_OK_BODY = b'{"assigned":1}'


@pytest.fixture
def pki(tmp_path: Path) -> Callable[[str], TlsConfig]:
    return lab_tls(tmp_path)


@dataclass
class _RawPeer:
    """A TLS server that reads one request head and body, then writes the canned answer."""

    answer: bytes
    close_after: bool = False
    byte_at_a_time: bool = False
    url: str = ""
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


@asynccontextmanager
async def _raw_peer(tls: TlsConfig, peer: _RawPeer) -> AsyncIterator[_RawPeer]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer.connections += 1
        try:
            while True:
                peer.requests.append(await _read_request(reader))
                if peer.byte_at_a_time:
                    for i in range(len(peer.answer)):
                        writer.write(peer.answer[i : i + 1])
                        await writer.drain()  # one TLS record, so one read, per byte
                else:
                    writer.write(peer.answer)
                    await writer.drain()
                if peer.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ssl_context(tls))
    peer.url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def _connection(
    pki: Callable[[str], TlsConfig], peer: _RawPeer
) -> AsyncIterator[PeerHttpConnection]:
    async with _raw_peer(pki("KME_b"), peer):
        connection = PeerHttpConnection(peer.url, client_ssl_context(pki("KME_a"), "KME_b"))
        try:
            yield connection
        finally:
            await connection.aclose()


async def test_posts_reuse_one_connection(pki: Callable[[str], TlsConfig]) -> None:
    peer = _RawPeer(_OK + _OK_BODY)
    async with _connection(pki, peer) as connection:
        for _ in range(3):
            assert await connection.post("/peer/v1/links/l/assign", b"{}") == (200, _OK_BODY)
    assert peer.connections == 1
    assert peer.requests[0].startswith(b"POST /peer/v1/links/l/assign HTTP/1.1\r\n")
    assert peer.requests[0].endswith(b"Content-Length: 2\r\n\r\n{}")


async def test_an_answer_arriving_byte_by_byte_is_read(pki: Callable[[str], TlsConfig]) -> None:
    peer = _RawPeer(_OK + _OK_BODY, byte_at_a_time=True)
    async with _connection(pki, peer) as connection:
        for _ in range(2):
            assert await connection.post("/a", b"{}") == (200, _OK_BODY)
    assert peer.connections == 1


async def test_a_connection_the_peer_closed_is_replaced(pki: Callable[[str], TlsConfig]) -> None:
    peer = _RawPeer(_OK + _OK_BODY, close_after=True)
    async with _connection(pki, peer) as connection:
        assert await connection.post("/a", b"{}") == (200, _OK_BODY)
        await _until_closing(connection)
        assert await connection.post("/a", b"{}") == (200, _OK_BODY)
    assert peer.connections == 2


async def _until_closing(connection: PeerHttpConnection) -> None:
    """Wait until the client has seen the peer close its connection (connection_lost)."""
    reader = connection._connection
    assert reader is not None
    async with asyncio.timeout(10):  # a bound on a hang, not a measurement
        await asyncio.shield(reader._closed)  # shielded: aclose awaits the same future
    assert reader.is_closing()


async def test_connection_close_answer_is_not_reused(pki: Callable[[str], TlsConfig]) -> None:
    closing = _OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    peer = _RawPeer(closing + _OK_BODY)
    async with _connection(pki, peer) as connection:
        assert await connection.post("/a", b"{}") == (200, _OK_BODY)
        assert await connection.post("/a", b"{}") == (200, _OK_BODY)
    assert peer.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", id="http-1.0"),
        pytest.param(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}", id="bad-status"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\n{}", id="no-content-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", id="negative-length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            id="repeated-length",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", id="malformed-header"),
        pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", id="bare-lf"),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            id="interim-answer",
        ),
        pytest.param(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
            b"Content-Length: 0\r\n\r\n",
            id="upgrade",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n",
            id="bytes-after-the-answer",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER_BYTES + 1),
            id="too-large",
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", id="truncated"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 20_000 + b"\r\n\r\n", id="huge-head"),
    ],
)
async def test_answers_outside_the_subset_are_refused_and_the_connection_dropped(
    pki: Callable[[str], TlsConfig], answer: bytes
) -> None:
    # Only a truncated answer needs the peer to close; otherwise the peer keeps the connection
    # open, so the second connection shows that the client dropped the first.
    peer = _RawPeer(answer, close_after=b"Content-Length: 10\r\n" in answer)
    async with _connection(pki, peer) as connection:
        with pytest.raises(PeerHttpError):
            await connection.post("/a", b"{}")
        peer.answer = _OK + _OK_BODY
        peer.close_after = False
        assert await connection.post("/a", b"{}") == (200, _OK_BODY)
    assert peer.connections == 2


async def test_a_timed_out_exchange_leaves_no_stale_answer(
    pki: Callable[[str], TlsConfig],
) -> None:
    """After a timeout the late answer must not be read as the next request's answer."""
    late = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                body = (await _read_request(reader)).split(b"\r\n\r\n", 1)[1]
                if body == b'"slow"':
                    await late.wait()
                answer = b'{"assigned":%s}' % (b"1" if body == b'"slow"' else b"2")
                writer.write(_OK + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_ssl_context(pki("KME_b")))
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    # The slow answer waits for `late`, so only this timeout ends it; it also covers the fast
    # requests' TLS handshakes, hence seconds rather than a tight bound.
    client = PeerClient(url, "KME_b", client_ssl_context(pki("KME_a"), "KME_b"), 2.0)
    try:
        assert await client.post("/a", b'"fast"') == {"assigned": 2}
        with pytest.raises(PeerKmeError):
            await client.post("/a", b'"slow"')
        late.set()
        assert await client.post("/a", b'"fast"') == {"assigned": 2}
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_unreachable_peer_is_a_peer_kme_error(pki: Callable[[str], TlsConfig]) -> None:
    async with _raw_peer(pki("KME_b"), _RawPeer(b"")) as peer:
        url = peer.url
    client = PeerClient(url, "KME_b", client_ssl_context(pki("KME_a"), "KME_b"), 5.0)
    try:
        with pytest.raises(PeerKmeError):
            await client.post("/a", b"{}")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1",
        "https://user@127.0.0.1:1",
        "https://127.0.0.1:1/a b",
        "https://127.0.0.1:1/a\x00",
        "https://127.0.0.1:1/a?q=1",
        "https://127.0.0.1:99999",
        "https://127.0.0.1:0",
        "https://hôte:1",
    ],
)
def test_the_peer_url_must_be_plain_https(url: str) -> None:
    with pytest.raises(ConfigurationError):
        PeerHttpConnection(url, ssl.create_default_context())


def test_no_port_means_443_and_an_explicit_port_is_kept() -> None:
    context = ssl.create_default_context()
    assert PeerHttpConnection("https://kme.example", context)._port == 443
    assert PeerHttpConnection("https://kme.example:1", context)._port == 1


_BAD_PATHS = ["a", "/a b", "/a\r\nX-Injected: 1", "/a\x7f"]


@pytest.mark.parametrize("path", _BAD_PATHS)
async def test_a_request_path_that_could_break_the_request_line_is_refused(path: str) -> None:
    assert not is_request_path(path)
    connection = PeerHttpConnection("https://127.0.0.1:1", ssl.create_default_context())
    with pytest.raises(LocalProtocolError, match="path"):
        await connection.post(path, b"{}")


async def test_a_bad_request_path_is_a_local_bug_not_an_unavailable_peer() -> None:
    """PeerClient must not turn our own misuse into PeerKmeError (503, "peer unavailable")."""
    client = PeerClient("https://127.0.0.1:1", "KME_b", ssl.create_default_context(), 5.0)
    try:
        with pytest.raises(LocalProtocolError):
            await client.post(_BAD_PATHS[-1], b"{}")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"\xff\xfe", id="not-utf-8"),
        pytest.param(b"[" * 60_000, id="nested-past-the-recursion-limit"),
    ],
)
async def test_an_answer_that_is_not_json_is_a_peer_kme_error(
    pki: Callable[[str], TlsConfig], body: bytes
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    async with _raw_peer(pki("KME_b"), _RawPeer(answer)) as peer:
        client = PeerClient(peer.url, "KME_b", client_ssl_context(pki("KME_a"), "KME_b"), 5.0)
        try:
            with pytest.raises(PeerKmeError):
                await client.post("/a", b"{}")
        finally:
            await client.aclose()


def test_a_refused_answer_is_a_peer_kme_error() -> None:
    """PeerHttpError belongs to the family enc_keys answers with 503 (peer KME unavailable)."""
    assert issubclass(PeerHttpError, PeerKmeError)
