"""KmeClient against a scripted KME over real mutual TLS: results, typed errors, retries,
certificate and KME ID checks, connection reuse."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from aiohttp import web

from protocols.errors import LocalProtocolError
from protocols.etsi014 import MSG_KEYS_NOT_FOUND, KeyContainer
from qkdlink.client import KmeClient, KmeClientConfig, RetryPolicy
from qkdlink.errors import (
    AuthenticationError,
    ChannelClosedError,
    KmeBadRequestError,
    KmeResponseError,
    KmeUnauthorizedError,
    KmeUnavailableError,
)

from ._fake_kme import (
    KME_ID,
    SAE_A,
    SAE_B,
    Lab,
    RunningKme,
    client_config,
    json_response,
    start_kme,
)


class Sleeps:
    """Records backoff delays instead of sleeping (the client's `sleep` is injectable)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _client(config: KmeClientConfig, sleeps: Sleeps | None = None) -> KmeClient:
    return KmeClient(config, jitter=lambda: 0.5, sleep=sleeps or Sleeps())


def _reply(status: int, body: Any = None, **headers: str) -> Any:
    def handler(request: web.Request) -> web.Response:
        if body is None:
            return web.Response(status=status, headers=headers)
        response = json_response(status, body)
        response.headers.update(headers)
        return response

    return handler


def _drop(request: web.Request) -> None:
    assert request.transport is not None
    request.transport.abort()  # the connection dies before any response


async def test_status_and_key_round_trip(config: KmeClientConfig, kme: RunningKme) -> None:
    async with _client(config) as client:
        status = await client.status(SAE_B)
        assert (status.source_kme_id, status.slave_sae_id, status.key_size) == (KME_ID, SAE_B, 256)
        enc = await client.get_key(SAE_B, number=3, size=128)
        assert len(enc.keys) == 3
        assert all(k.size == 128 for k in enc.keys)
        dec = await client.get_key_with_ids(SAE_A, [str(i) for i in enc.key_ids])
    assert dec == enc
    assert {r[0] for r in kme.fake.requests} == {"GET", "POST"}
    assert all(r[3] == SAE_A for r in kme.fake.requests)  # the KME saw our certificate
    assert b'"number":3' in kme.fake.requests[1][2]
    for key in enc.keys:
        assert key.key.hex() not in repr(enc)


async def test_connection_is_reused(config: KmeClientConfig, kme: RunningKme) -> None:
    async with _client(config) as client:
        for _ in range(5):
            await client.get_key(SAE_B)
    assert len(kme.fake.requests) == 5
    assert len(kme.fake.peers) == 1  # one TLS connection, kept alive


async def test_503_is_retried_with_backoff(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(503, {"message": "key data access error"})] * 2
    sleeps = Sleeps()
    async with _client(config, sleeps) as client:
        container = await client.get_key(SAE_B)
    assert len(container.keys) == 1
    assert len(kme.fake.requests) == 3
    # Full jitter with the draw pinned at 0.5: half of 0.01 * 2**(n-1), capped at 0.05.
    assert sleeps.delays == pytest.approx([0.005, 0.01])


async def test_retry_after_is_a_bounded_floor(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(503, {"message": "busy"}, **{"Retry-After": "3600"})]
    sleeps = Sleeps()
    async with _client(config, sleeps) as client:
        await client.status(SAE_B)
    assert sleeps.delays == [0.05]  # max_delay caps a hostile Retry-After


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "1\uff10", "-1", "1.5", "Wed, 21 Oct"])
async def test_retry_after_only_ascii_delta_seconds(
    config: KmeClientConfig, kme: RunningKme, value: str
) -> None:
    # "²" (U+00B2, one latin-1 byte) and "٣" pass str.isdigit but are no HTTP DIGIT: ignored,
    # and the plain backoff applies.
    kme.fake.script = [_reply(503, {"message": "busy"}, **{"Retry-After": value})]
    sleeps = Sleeps()
    async with _client(config, sleeps) as client:
        await client.status(SAE_B)
    assert sleeps.delays == pytest.approx([0.005])


async def test_503_exhausts_the_bounded_retries(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(503, {"message": "key data access error"})] * 10
    async with _client(config) as client:
        with pytest.raises(KmeUnavailableError, match="key data access error"):
            await client.get_key(SAE_B)
    assert len(kme.fake.requests) == 3


async def test_dropped_connection_is_retried(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_drop]
    async with _client(config) as client:
        assert len((await client.get_key(SAE_B, number=2)).keys) == 2
    assert len(kme.fake.requests) == 2


async def test_unreachable_kme_is_unavailable(lab: Lab) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    async with _client(client_config(lab, f"https://127.0.0.1:{port}"), sleeps) as client:
        with pytest.raises(KmeUnavailableError, match="after 3 attempts") as info:
            await client.status(SAE_B)
    assert info.value.__cause__ is not None
    assert len(sleeps.delays) == 2


async def test_400_is_typed_and_not_retried(config: KmeClientConfig, kme: RunningKme) -> None:
    body = {
        "message": "not all extension_mandatory parameters are supported",
        "details": [{"extension_mandatory_unsupported": "abc_route_type is not supported"}],
    }
    kme.fake.script = [_reply(400, body)]
    async with _client(config) as client:
        with pytest.raises(KmeBadRequestError) as info:
            await client.get_key(SAE_B, extension_mandatory=[{"abc_route_type": "direct"}])
    assert info.value.message == body["message"]
    assert info.value.details == tuple(body["details"])
    assert len(kme.fake.requests) == 1


async def test_401_is_typed_and_not_retried(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(401)]
    async with _client(config) as client:
        with pytest.raises(KmeUnauthorizedError):
            await client.get_key_with_ids(SAE_A, [uuid.uuid4()])
    assert len(kme.fake.requests) == 1


async def test_unknown_key_ids(config: KmeClientConfig) -> None:
    async with _client(config) as client:
        with pytest.raises(KmeBadRequestError) as info:
            await client.get_key_with_ids(SAE_A, [uuid.uuid4()])
    assert info.value.message == MSG_KEYS_NOT_FOUND


_KEY = {
    "key_ID": "550e8400-e29b-41d4-a716-446655440000",
    "key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (_reply(200, {"keys": [{"key_ID": "nope", "key": "AAAA"}]}), "malformed body"),
        (_reply(200, {"keys": [_KEY, _KEY]}), "malformed body"),
        (_reply(200, {"keys": [_KEY], "extra": 1}), "malformed body"),
        (_reply(200, {"keys": [{**_KEY, "key": "AAAA"}]}), "another size"),
        (_reply(400, {"msg": "x"}), "without an Error body"),
        (_reply(500, {"message": "boom"}), "HTTP 500"),
        (_reply(404), "HTTP 404"),
        (lambda r: web.Response(status=200, text="{}", content_type="text/plain"), "not JSON"),
    ],
    ids=[
        "bad-uuid",
        "dup-id",
        "unknown-member",
        "wrong-size",
        "400-no-error",
        "500",
        "404",
        "text",
    ],
)
async def test_responses_outside_the_spec(
    config: KmeClientConfig, kme: RunningKme, handler: Any, match: str
) -> None:
    kme.fake.script = [handler]
    async with _client(config) as client:
        with pytest.raises(KmeResponseError, match=match):
            await client.get_key(SAE_B, size=256)
    assert len(kme.fake.requests) == 1


async def test_wrong_number_of_keys(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(200, {"keys": [_KEY]})]
    async with _client(config) as client:
        with pytest.raises(KmeResponseError, match="asked for 2 keys"):
            await client.get_key(SAE_B, number=2, size=256)


async def test_dec_keys_with_other_ids(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.script = [_reply(200, {"keys": [_KEY]})]
    async with _client(config) as client:
        with pytest.raises(KmeResponseError, match="other key IDs"):
            await client.get_key_with_ids(SAE_A, [uuid.uuid4()])


async def test_large_response_arriving_in_chunks(config: KmeClientConfig, kme: RunningKme) -> None:
    async with _client(config) as client:
        container = await client.get_key(SAE_B, number=16, size=8192 * 8)  # ~180 KB of JSON
    assert len(container.keys) == 16
    assert {k.size for k in container.keys} == {8192 * 8}


async def test_oversized_response(lab: Lab, kme: RunningKme) -> None:
    async with _client(client_config(lab, kme.url, max_response_bytes=64)) as client:
        with pytest.raises(KmeResponseError, match="over the cap"):
            await client.get_key(SAE_B, number=4)


async def test_status_of_another_kme(config: KmeClientConfig, kme: RunningKme) -> None:
    kme.fake.status_source_kme_id = "KME_impostor"
    async with _client(config) as client:
        with pytest.raises(KmeResponseError, match="source_KME_ID 'KME_impostor'"):
            await client.status(SAE_B)


async def test_certificate_from_another_ca_is_refused(lab: Lab) -> None:
    runner, running = await start_kme(lab, lab.foreign_kme)
    try:
        async with _client(client_config(lab, running.url)) as client:
            with pytest.raises(AuthenticationError):
                await client.status(SAE_B)
    finally:
        await runner.cleanup()
    assert running.fake.requests == []  # no HTTP was sent to the impostor


async def test_certificate_naming_another_kme_is_refused(lab: Lab) -> None:
    runner, running = await start_kme(lab, lab.other_kme)
    try:
        async with _client(client_config(lab, running.url)) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.get_key(SAE_B)
        assert "names KME ID 'KME_other'" in str(info.value.__cause__)
        assert running.fake.requests == []  # refused before any HTTP request
        # The check can be turned off for KMEs whose certificates do not carry the ID.
        relaxed = client_config(lab, running.url, check_kme_id_in_certificate=False)
        async with _client(relaxed) as client:
            assert isinstance(await client.get_key(SAE_B), KeyContainer)
    finally:
        await runner.cleanup()


async def test_host_name_is_verified(lab: Lab) -> None:
    # The right CA and KME ID, but a certificate for 127.0.0.2 served on 127.0.0.1.
    runner, running = await start_kme(lab, lab.wrong_host_kme)
    try:
        async with _client(client_config(lab, running.url)) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.status(SAE_B)
    finally:
        await runner.cleanup()
    assert "127.0.0.1" in str(info.value.__cause__)
    assert running.fake.requests == []


async def test_sae_certificate_refused_by_the_kme(lab: Lab, kme: RunningKme) -> None:
    # With TLS 1.3 the KME rejects a client certificate after the client has finished its
    # handshake, so the client only sees the connection close: no keys, KmeUnavailableError.
    config = client_config(lab, kme.url, cert=lab.foreign_sae.cert, key=lab.foreign_sae.key)
    async with _client(config) as client:
        with pytest.raises(KmeUnavailableError):
            await client.get_key(SAE_B)
    assert kme.fake.requests == []


async def test_lifecycle(config: KmeClientConfig) -> None:
    client = _client(config)
    with pytest.raises(LocalProtocolError, match="not open"):
        await client.status(SAE_B)
    async with client:
        assert "KME_a" in repr(client)
        with pytest.raises(LocalProtocolError):
            await client.get_key_with_ids(SAE_A, ["not-a-uuid"])
        with pytest.raises(LocalProtocolError):
            await client.get_key("", number=1)
    await client.aclose()
    with pytest.raises(ChannelClosedError):
        await client.status(SAE_B)
    with pytest.raises(ChannelClosedError):
        await client.open()


def test_retry_policy_bounds() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.1, max_delay=1.0)
    assert [policy.backoff(n, 0.999999) for n in (1, 2, 3, 4, 5, 60)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0], rel=1e-5
    )
    assert policy.backoff(3, 0.0) == 0.0
    assert policy.backoff(1, 0.0, retry_after=0.5) == 0.5
    assert policy.backoff(1, 0.0, retry_after=10.0) == 1.0
