"""The peer KME client: it talks only to the expected KME, and never relays the peer's text."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from qkdlink.errors import PeerKmeError
from qkdlink.kme._config import TlsConfig
from qkdlink.kme._sync import PeerClient
from qkdlink.kme._tls import client_ssl_context, server_ssl_context
from tests.qkdlink.kme._pki import lab_tls

_ASSIGN = "/peer/v1/links/l/assign"
_FORGED = "\r\n2026-01-01 CRITICAL qkdlink.kme forged entry"


@dataclass
class _Peer:
    """A TLS server standing in for a peer KME; records every request it receives."""

    url: str
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def pki(tmp_path: Path) -> Callable[[str], TlsConfig]:
    return lab_tls(tmp_path)


@asynccontextmanager
async def _serve(tls: TlsConfig, status: int, body: str) -> AsyncIterator[_Peer]:
    peer = _Peer("")

    async def assign(request: web.Request) -> web.Response:
        peer.received.append(await request.read())
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_post(_ASSIGN, assign)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ssl_context(tls))
    await site.start()
    port = runner.addresses[0][1]
    peer.url = f"https://127.0.0.1:{port}"
    try:
        yield peer
    finally:
        await runner.cleanup()


async def _post(pki: Callable[[str], TlsConfig], peer: _Peer, body: bytes) -> dict[str, object]:
    client = PeerClient(peer.url, "KME_b", client_ssl_context(pki("KME_a"), "KME_b"), 5.0)
    try:
        return await client.post(_ASSIGN, body)
    finally:
        await client.aclose()


async def test_the_expected_peer_kme_gets_the_request(pki: Callable[[str], TlsConfig]) -> None:
    async with _serve(pki("KME_b"), 200, '{"assigned": 1}') as peer:
        assert await _post(pki, peer, b'{"ids": 1}') == {"assigned": 1}
        assert peer.received == [b'{"ids": 1}']


async def test_another_lab_kme_on_the_peer_address_receives_nothing(
    pki: Callable[[str], TlsConfig],
) -> None:
    """A valid lab certificate for the wrong KME ID fails the handshake: no key ID is sent."""
    async with _serve(pki("KME_c"), 200, '{"assigned": 1}') as impostor:
        with pytest.raises(PeerKmeError):
            await _post(pki, impostor, b'{"ids": 1}')
        assert impostor.received == []


async def test_the_peer_answer_text_reaches_neither_errors_nor_logs(
    pki: Callable[[str], TlsConfig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with _serve(pki("KME_b"), 400, _FORGED) as peer:
        with pytest.raises(PeerKmeError) as caught:
            await _post(pki, peer, b"{}")
    assert "400" in str(caught.value)
    assert "forged" not in str(caught.value)
    assert all("forged" not in record.getMessage() for record in caplog.records)


def test_the_server_refuses_renegotiation(pki: Callable[[str], TlsConfig]) -> None:
    """The HTTP layer reads a client's identity once per connection, so the certificate of the
    handshake must stay the connection's certificate (TLS 1.2 renegotiation could replace it)."""
    assert server_ssl_context(pki("KME_b")).options & ssl.OP_NO_RENEGOTIATION
