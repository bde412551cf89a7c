"""`KmeClient`: the SAE side of ETSI GS QKD 014 over HTTPS with mutual TLS (aiohttp).

One `aiohttp.ClientSession` per client keeps TLS connections alive between calls. A connection
is used only once the KME's certificate chains to the configured CA, matches the URL's host name
and names the expected KME ID (clause 5.1; see `client_ssl_context`); bodies are parsed strictly
by `protocols.etsi014`, and anything the spec does not allow is a `KmeResponseError`.

Retries (bounded, `RetryPolicy`) happen on 503 and on connection failures only, never on 400 or
401. Retrying `enc_keys` cannot make the KME hand one key to two requests: if a first attempt
was served but its response lost, the KME already removed those keys from its pool (clause 5.3
post-condition), so the retry gets new keys and the lost ones are simply never used. A retried
`dec_keys` whose first attempt was served but lost gets 400 "one or more keys specified are not
found on KME" (clause 6.4), since the KME deletes keys once delivered (clause 5.4).
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Self, TypeVar

import aiohttp
from yarl import URL

from protocols.errors import LocalProtocolError
from protocols.etsi014 import (
    ErrorBody,
    JsonValue,
    KeyContainer,
    KeyIds,
    KeyRequest,
    ParseError,
    Status,
)
from qkdlink._aclose import AsyncClosing
from qkdlink.client._config import KmeClientConfig
from qkdlink.client._tls import client_ssl_context
from qkdlink.errors import (
    AuthenticationError,
    ChannelClosedError,
    KmeBadRequestError,
    KmeResponseError,
    KmeUnauthorizedError,
    KmeUnavailableError,
)

__all__ = ["KmeClient"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
# Built URLs are cached per (SAE ID, action); an SAE talks to few peers, the bound is a backstop.
_URL_CACHE_SIZE = 1024
_JSON_HEADERS = {"Accept": "application/json"}
_POST_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in delta-seconds form (RFC 9110 section 10.2.3); HTTP dates are ignored."""
    value = headers.get("Retry-After", "")
    # delta-seconds is 1*DIGIT, ASCII only (RFC 5234 appendix B.1): str.isdigit alone would also
    # take "²" or "٣", which float() then refuses.
    if value.isascii() and value.isdigit() and len(value) <= 6:
        return float(value)
    return None


def _error_body(data: bytes) -> ErrorBody | None:
    try:
        return ErrorBody.from_json(data)
    except ParseError:
        return None


def _key_ids_of(ids: Iterable[uuid.UUID | str]) -> KeyIds:
    try:
        return KeyIds.of(i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in ids)
    except (ValueError, TypeError) as exc:
        raise LocalProtocolError(f"malformed key ID: {exc}") from None


class KmeClient(AsyncClosing):
    """An SAE's async client for its KME: `status`, `get_key` (enc_keys), `get_key_with_ids`
    (dec_keys). Use as `async with KmeClient(config) as kme: ...`.

    Returned keys are `protocols.etsi014.Key` objects, whose repr never shows the material.
    """

    def __init__(
        self,
        config: KmeClientConfig,
        *,
        jitter: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Bind the config; nothing is opened until `open()` / `async with`.

        `jitter` (uniform in [0, 1)) and `sleep` are injectable so tests can pin the backoff.
        """
        self._config = config
        self._jitter = jitter
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._base = URL(config.base_url)
        self._urls: dict[tuple[str, str], URL] = {}

    def __repr__(self) -> str:
        return f"KmeClient(url={self._config.url!r}, kme_id={self._config.kme_id!r})"

    @property
    def config(self) -> KmeClientConfig:
        """The configuration this client was built with."""
        return self._config

    async def open(self) -> None:
        """Create the TLS context and the keep-alive connection pool.

        Raises:
            ConfigurationError: the certificate, key or CA cannot be loaded.
            ChannelClosedError: the client was closed before.
        """
        if self._closed:
            raise ChannelClosedError("this KmeClient was closed")
        if self._session is not None:
            return
        context = client_ssl_context(self._config)
        connector = aiohttp.TCPConnector(
            ssl=context, limit=self._config.max_connections, keepalive_timeout=30.0
        )
        timeout = aiohttp.ClientTimeout(
            total=self._config.request_timeout, sock_connect=self._config.connect_timeout
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, raise_for_status=False, auto_decompress=False
        )

    async def aclose(self) -> None:
        """Close the connection pool. Always closes; closing twice is harmless."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    # --- API methods (clause 5, Table 2) -------------------------------------------------------

    async def status(self, slave_sae_id: str) -> Status:
        """Get status (clause 5.2) for keys towards `slave_sae_id`.

        Raises:
            KmeBadRequestError: 400 with the KME's Error message and details.
            KmeUnauthorizedError: 401.
            KmeUnavailableError: 503 or no connection, after the bounded retries.
            KmeResponseError: a body the spec does not allow, or the Status names another KME
                ID or another slave SAE than asked.
            AuthenticationError: the KME's certificate fails verification or names another KME.
        """
        status = await self._call("GET", slave_sae_id, "status", None, Status.from_json)
        if status.source_kme_id != self._config.kme_id:
            raise KmeResponseError(
                f"KME reports source_KME_ID {status.source_kme_id!r}, "
                f"expected {self._config.kme_id!r}"
            )
        if status.slave_sae_id != slave_sae_id:
            raise KmeResponseError(f"Status is for slave SAE {status.slave_sae_id!r}")
        sae_id = self._config.sae_id
        if sae_id is not None and status.master_sae_id != sae_id:
            raise KmeResponseError(f"Status is for master SAE {status.master_sae_id!r}")
        return status

    async def get_key(
        self,
        slave_sae_id: str,
        *,
        number: int = 1,
        size: int | None = None,
        additional_slave_sae_ids: Sequence[str] = (),
        extension_mandatory: Sequence[Mapping[str, JsonValue]] = (),
        extension_optional: Sequence[Mapping[str, JsonValue]] = (),
    ) -> KeyContainer:
        """Get key (enc_keys, clause 5.3): `number` new keys of `size` bits (default: the KME's
        key_size) shared with `slave_sae_id` (and `additional_slave_sae_ids`), sent as a POST
        Key request (clause 6.2).

        Raises:
            LocalProtocolError: the arguments do not form a Key request.
            KmeBadRequestError: 400 (e.g. "size shall be a multiple of 8"), message and details.
            KmeUnauthorizedError: 401.
            KmeUnavailableError: 503 or no connection, after the bounded retries.
            KmeResponseError: a body the spec does not allow, or not `number` keys of `size`.
            AuthenticationError: the KME's certificate fails verification or names another KME.
        """
        request = KeyRequest(
            number=number,
            size=size,
            additional_slave_sae_ids=tuple(additional_slave_sae_ids),
            extension_mandatory=tuple(dict(e) for e in extension_mandatory),
            extension_optional=tuple(dict(e) for e in extension_optional),
        )
        container = await self._call(
            "POST", slave_sae_id, "enc_keys", request.to_json(), KeyContainer.from_json
        )
        if len(container.keys) != number:
            raise KmeResponseError(
                f"asked for {number} keys, the KME returned {len(container.keys)}"
            )
        sizes = {key.size for key in container.keys}
        if (size is not None and sizes != {size}) or len(sizes) != 1:
            raise KmeResponseError("the KME returned keys of another size than requested")
        return container

    async def get_key_with_ids(
        self, master_sae_id: str, key_ids: KeyIds | Iterable[uuid.UUID | str]
    ) -> KeyContainer:
        """Get key with key IDs (dec_keys, clause 5.4): the keys `master_sae_id` obtained with
        these IDs, sent as a POST Key IDs body (clause 6.4).

        Raises:
            LocalProtocolError: no key ID, a repeated or malformed one.
            KmeBadRequestError: 400 (e.g. "one or more keys specified are not found on KME").
            KmeUnauthorizedError: 401 (this SAE was not named as slave for these keys).
            KmeUnavailableError: 503 or no connection, after the bounded retries.
            KmeResponseError: a body the spec does not allow, or other key IDs than asked.
            AuthenticationError: the KME's certificate fails verification or names another KME.
        """
        if not isinstance(key_ids, KeyIds):
            key_ids = _key_ids_of(key_ids)
        container = await self._call(
            "POST", master_sae_id, "dec_keys", key_ids.to_json(), KeyContainer.from_json
        )
        if sorted(container.key_ids) != sorted(key_ids.ids):
            raise KmeResponseError("the KME returned other key IDs than requested")
        return container

    # --- transport -----------------------------------------------------------------------------

    def _url(self, sae_id: str, action: str) -> URL:
        url = self._urls.get((sae_id, action))
        if url is None:
            if not isinstance(sae_id, str) or not sae_id:
                raise LocalProtocolError("an SAE ID must be a non-empty string")
            # yarl percent-encodes each segment: the SAE ID is "URL-encoded" (Tables 3, 5, 7).
            url = self._base / "api" / "v1" / "keys" / sae_id / action
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[(sae_id, action)] = url
        return url

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self._config.max_response_bytes
        length = response.content_length
        if length is not None and length > cap:
            raise KmeResponseError(f"response body of {length} bytes is over the cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        # StreamReader.read(n) may return less than is coming: read chunks until EOF.
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise KmeResponseError(f"response body is over the cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _call(
        self,
        method: str,
        sae_id: str,
        action: str,
        body: bytes | None,
        parse: Callable[[bytes], _T],
    ) -> _T:
        session = self._session
        if session is None:
            if self._closed:
                raise ChannelClosedError("this KmeClient was closed")
            raise LocalProtocolError("KmeClient is not open: use `async with KmeClient(...)`")
        url = self._url(sae_id, action)
        headers = _JSON_HEADERS if body is None else _POST_HEADERS
        policy = self._config.retry
        retry_after: float | None = None
        failure = "no attempt made"
        cause: BaseException | None = None
        for attempt in range(1, policy.attempts + 1):
            if attempt > 1:
                delay = policy.backoff(attempt - 1, self._jitter(), retry_after)
                _log.debug(
                    "KME %s %s: retry %d in %.3fs (%s)", method, action, attempt, delay, failure
                )
                await self._sleep(delay)
            retry_after = None
            try:
                async with session.request(method, url, data=body, headers=headers) as response:
                    data = await self._read_capped(response)
                    status = response.status
                    content_type = response.content_type
                    retry_after = _retry_after(response.headers)
            except aiohttp.ClientSSLError as exc:
                # Certificate chain, host name or handshake failure: an authentication failure,
                # never retried and never downgraded (clause 5.1).
                raise AuthenticationError("TLS authentication of the KME failed") from exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                failure, cause = f"connection failed: {type(exc).__name__}", exc
                continue
            except aiohttp.ClientResponseError as exc:
                raise KmeResponseError(
                    f"malformed HTTP response from the KME: {exc.message}"
                ) from exc
            except aiohttp.ClientError as exc:
                raise KmeResponseError(f"HTTP exchange with the KME failed: {exc}") from exc
            if status == 503:
                error = _error_body(data)
                failure = f"503 {error.message if error else 'without an Error body'}"
                cause = None
                continue
            return self._outcome(status, content_type, data, parse)
        raise KmeUnavailableError(
            f"KME {method} {action} failed after {policy.attempts} attempts: {failure}"
        ) from cause

    def _outcome(
        self, status: int, content_type: str, data: bytes, parse: Callable[[bytes], _T]
    ) -> _T:
        if status == 401:
            raise KmeUnauthorizedError("the KME refused this SAE (401 Unauthorized)")
        if status not in (200, 400):
            raise KmeResponseError(f"HTTP {status} is not a response ETSI GS QKD 014 defines")
        if content_type != "application/json":
            raise KmeResponseError(f"HTTP {status} with content type {content_type!r}, not JSON")
        if status == 400:
            error = _error_body(data)
            if error is None:
                raise KmeResponseError("HTTP 400 without an Error body (clause 6.5)")
            raise KmeBadRequestError(error.message, error.details)
        try:
            return parse(data)
        except ParseError as exc:
            raise KmeResponseError(f"malformed body from the KME: {exc.error.details}") from None
