"""The KME's HTTP surface (aiohttp): ETSI GS QKD 014 clause 5 endpoints and the peer endpoint.

Every response is either 200 with the data format of clause 6, or an error: 400 and 503 with
the Error body (clause 6.5), 401 for an SAE not entitled, 404/405 for paths and methods the
spec does not define. Nothing else: any unexpected failure becomes 503 "key data access error"
and is logged by exception type only, because tracebacks could carry key material.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from protocols.etsi014 import (
    MSG_BAD_REQUEST_FORMAT,
    BadRequestError,
    ErrorBody,
    KeyIds,
    KeyRequest,
)
from qkdlink.errors import AuthenticationError
from qkdlink.kme._bulk import key_container_json
from qkdlink.kme._peer_wire import PEER_MAX_BODY_BYTES, PeerWireError, decode_assign
from qkdlink.kme._service import KmeReplyError, KmeService
from qkdlink.pki import Identity, identity_from_peercert

_Parsed = TypeVar("_Parsed", KeyRequest, KeyIds)

__all__ = ["build_app"]

_log = logging.getLogger("qkdlink.kme.http")

_JSON = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=_JSON)


def _problem_response(problem: KmeReplyError) -> web.Response:
    return _json_response(problem.body.to_json(), problem.status)


class _Callers:
    """The verified identity of each TLS client connection, read once per connection.

    Reading it costs about 15 us (certificate fields to `Identity`), on every request of a
    keep-alive connection otherwise. The server context forbids renegotiation (`_tls`), so a
    connection's certificate cannot change after the handshake.
    """

    def __init__(self) -> None:
        self._known: weakref.WeakKeyDictionary[asyncio.BaseTransport, Identity] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self, request: web.Request) -> Identity:
        transport = request.transport
        if transport is None:
            raise KmeReplyError.unauthorized()
        identity = self._known.get(transport)
        if identity is None:
            try:
                identity = identity_from_peercert(transport.get_extra_info("peercert"))
            except AuthenticationError as exc:
                raise KmeReplyError.unauthorized() from exc
            self._known[transport] = identity
        return identity


async def _body(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing (400) more than `limit` bytes before buffering them."""
    too_large = KmeReplyError.bad_request(MSG_BAD_REQUEST_FORMAT, body="body is too large")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = await request.content.read(limit + 1)
    while len(data) <= limit:
        chunk = await request.content.read(limit + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise too_large


def _no_query(request: web.Request) -> None:
    if request.query_string:
        raise KmeReplyError.bad_request(MSG_BAD_REQUEST_FORMAT, query="not allowed with POST")


class _Routes:
    def __init__(self, service: KmeService, max_body_bytes: int) -> None:
        self._service = service
        self._max_body = max_body_bytes
        self._caller = _Callers()

    async def status(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        if request.query_string:
            raise KmeReplyError.bad_request(MSG_BAD_REQUEST_FORMAT, query="status takes none")
        status = await self._service.status(caller, request.match_info["sae_id"])
        return _json_response(status.to_json())

    async def _parsed(self, request: web.Request, model: type[_Parsed]) -> _Parsed:
        """The request's `model` from its query (GET) or JSON body (POST, no query allowed)."""
        if request.method == "GET":
            return model.from_query(request.query_string)
        _no_query(request)
        return model.from_json(await _body(request, self._max_body), max_bytes=self._max_body)

    async def enc_keys(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        key_request = await self._parsed(request, KeyRequest)
        keys = await self._service.enc_keys(caller, request.match_info["sae_id"], key_request)
        return _json_response(key_container_json(keys))  # StoredKey is a (key_id, material) tuple

    async def dec_keys(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        key_ids = await self._parsed(request, KeyIds)
        keys = await self._service.dec_keys(caller, request.match_info["sae_id"], key_ids)
        return _json_response(key_container_json(keys))  # StoredKey is a (key_id, material) tuple

    async def peer_assign(self, request: web.Request) -> web.Response:
        caller = self._caller(request)
        try:
            message = decode_assign(await _body(request, PEER_MAX_BODY_BYTES))
        except PeerWireError as exc:
            raise KmeReplyError.bad_request(MSG_BAD_REQUEST_FORMAT, reason=str(exc)) from exc
        count = await self._service.peer_assign(
            caller, request.match_info["link_id"], message.partition, message.groups
        )
        return _json_response(b'{"assigned":%d}' % count)


def _error_middleware(max_concurrent: int) -> Middleware:
    in_flight = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= max_concurrent:
            # Shed load at once instead of queueing without bound (clause 5: 503 is the
            # server-side error).
            return _problem_response(KmeReplyError.unavailable("KME is busy; retry later"))
        in_flight += 1
        try:
            return await handler(request)
        except KmeReplyError as problem:
            return _problem_response(problem)
        except BadRequestError as exc:
            return _json_response(exc.error.to_json(), 400)
        except web.HTTPException as exc:
            if exc.status >= 500:
                # ETSI GS QKD 014 allows no 5xx but 503.
                return _problem_response(KmeReplyError.unavailable())
            # aiohttp's own 404/405/413: answered in the Error format too.
            body = ErrorBody(MSG_BAD_REQUEST_FORMAT if exc.status == 413 else exc.reason.lower())
            return _json_response(body.to_json(), 400 if exc.status == 413 else exc.status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Log the type only: a traceback's locals or message could carry key material.
            _log.error("request %s %s failed: %s", request.method, request.path, type(exc).__name__)
            return _problem_response(KmeReplyError.unavailable())
        finally:
            in_flight -= 1

    return middleware


def build_app(service: KmeService, *, max_body_bytes: int, max_concurrent: int) -> web.Application:
    """The aiohttp application of one KME."""
    app = web.Application(
        client_max_size=PEER_MAX_BODY_BYTES, middlewares=[_error_middleware(max_concurrent)]
    )
    routes = _Routes(service, max_body_bytes)
    keys = "/api/v1/keys/{sae_id}"
    app.router.add_get(f"{keys}/status", routes.status, allow_head=False)
    app.router.add_get(f"{keys}/enc_keys", routes.enc_keys, allow_head=False)
    app.router.add_post(f"{keys}/enc_keys", routes.enc_keys)
    app.router.add_get(f"{keys}/dec_keys", routes.dec_keys, allow_head=False)
    app.router.add_post(f"{keys}/dec_keys", routes.dec_keys)
    app.router.add_post("/peer/v1/links/{link_id}/assign", routes.peer_assign)
    return app
