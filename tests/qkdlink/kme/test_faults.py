"""Bad input and faults: 400 in the spec's format, TLS refusals, no key bytes in logs, 503s."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import ssl
import uuid

import aiohttp
import pytest

from protocols.etsi014 import (
    MSG_BAD_REQUEST_FORMAT,
    MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    MSG_KEYS_NOT_FOUND,
    MSG_NUMBER_OUT_OF_RANGE,
    MSG_SIZE_NOT_MULTIPLE_OF_8,
    MSG_SIZE_OUT_OF_RANGE,
    MSG_TOO_MANY_SAE_IDS,
)
from qkdlink.lab import Lab, LabSpec
from qkdlink.pki import LabCA
from tests.qkdlink.kme.conftest import (
    SAE_A,
    SAE_B,
    TEST_LIMITS,
    A,
    B,
    Sae,
    client_context,
    url,
)


def _assert_error_body(body: dict[str, object]) -> None:
    """Clause 6.5: {"message": string, "details": [object, ...] (optional)}."""
    assert isinstance(body.get("message"), str)
    assert set(body) <= {"message", "details"}
    details = body.get("details", [])
    assert isinstance(details, list)
    assert all(isinstance(d, dict) for d in details)


ENC_BAD_QUERIES = [
    ("number=99999999999999", MSG_BAD_REQUEST_FORMAT),
    (f"number={TEST_LIMITS.max_key_per_request + 1}", MSG_NUMBER_OUT_OF_RANGE),
    ("number=0", MSG_NUMBER_OUT_OF_RANGE),
    ("number=-1", MSG_BAD_REQUEST_FORMAT),
    ("size=-8", MSG_BAD_REQUEST_FORMAT),
    ("size=100", MSG_SIZE_NOT_MULTIPLE_OF_8),
    ("size=0", MSG_SIZE_OUT_OF_RANGE),
    (f"size={TEST_LIMITS.max_key_size + 8}", MSG_SIZE_OUT_OF_RANGE),
    ("number=1&number=2", MSG_BAD_REQUEST_FORMAT),
    ("colour=red", MSG_BAD_REQUEST_FORMAT),
    ("number=1.5", MSG_BAD_REQUEST_FORMAT),
]


@pytest.mark.parametrize(("query", "message"), ENC_BAD_QUERIES)
async def test_bad_enc_keys_query_is_400(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, query: str, message: str
) -> None:
    reply = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?" + query)
    assert reply.status == 400
    _assert_error_body(reply.body)
    assert reply.body["message"] == message


ENC_BAD_BODIES: list[tuple[bytes, str]] = [
    (b"{", MSG_BAD_REQUEST_FORMAT),
    (b"[]", MSG_BAD_REQUEST_FORMAT),
    (b'{"number": "3"}', MSG_BAD_REQUEST_FORMAT),
    (b'{"number": true}', MSG_BAD_REQUEST_FORMAT),
    (b'{"number": 1, "number": 2}', MSG_BAD_REQUEST_FORMAT),
    (b'{"unknown": 1}', MSG_BAD_REQUEST_FORMAT),
    (b'{"size": 12}', MSG_SIZE_NOT_MULTIPLE_OF_8),
    (b'{"number": 100000000}', MSG_NUMBER_OUT_OF_RANGE),
    (
        b'{"extension_mandatory": [{"abc_route_type": "direct"}]}',
        MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    ),
    (
        json.dumps({"additional_slave_SAE_IDs": ["x1", "x2", "x3"]}).encode(),
        MSG_TOO_MANY_SAE_IDS,
    ),
    (
        b'{"number": 1, "pad": "' + b"x" * (TEST_LIMITS.max_body_bytes + 10) + b'"}',
        MSG_BAD_REQUEST_FORMAT,
    ),
    (b"\xff\xfe", MSG_BAD_REQUEST_FORMAT),
]


@pytest.mark.parametrize(("body", "message"), ENC_BAD_BODIES)
async def test_bad_enc_keys_body_is_400(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, body: bytes, message: str
) -> None:
    reply = await sae_a.request("POST", url(lab_spec, A, SAE_B, "enc_keys"), body=body)
    assert reply.status == 400
    _assert_error_body(reply.body)
    assert reply.body["message"] == message


async def test_bad_dec_keys_requests_are_400(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae
) -> None:
    enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys"))
    key_id = enc.body["keys"][0]["key_ID"]  # type: ignore[index]
    dec = url(lab_spec, B, SAE_A, "dec_keys")
    too_many = 1 + TEST_LIMITS.max_key_per_request
    cases = [
        ("GET", dec + "?key_ID=not-a-uuid", None),
        ("GET", dec + "?key_ID=" + key_id.upper().replace("-", ""), None),
        ("GET", dec, None),
        ("GET", dec + f"?key_ID={key_id}&key_ID={key_id}", None),
        ("POST", dec, json.dumps({"key_IDs": [{"key_ID": key_id}, {"key_ID": key_id}]})),
        ("POST", dec, json.dumps({"key_IDs": []})),
        ("POST", dec, json.dumps({"key_IDs": [{"key_ID": "zz"}]})),
        ("POST", dec, ""),
        (
            "POST",
            dec,
            json.dumps({"key_IDs": [{"key_ID": str(uuid.uuid4())} for _ in range(too_many)]}),
        ),
    ]
    for method, target, body in cases:
        reply = await sae_b.request(method, target, body=None if body is None else body.encode())
        assert reply.status == 400, (method, target, body)
        _assert_error_body(reply.body)
    unknown = await sae_b.request("GET", dec + f"?key_ID={uuid.uuid4()}")
    assert unknown.status == 400
    assert unknown.body["message"] == MSG_KEYS_NOT_FOUND
    # None of the refusals consumed the real key.
    ok = await sae_b.request("GET", dec + f"?key_ID={key_id}")
    assert ok.status == 200


async def test_unknown_paths_and_methods_are_not_5xx(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae
) -> None:
    base = lab_spec.node(A).kme_url
    for method, target in [
        ("GET", base + "/"),
        ("GET", base + "/api/v1/keys/SAE_x"),
        ("DELETE", url(lab_spec, A, SAE_B, "enc_keys")),
        ("POST", url(lab_spec, A, SAE_B, "status")),
        ("PUT", url(lab_spec, A, SAE_B, "dec_keys")),
    ]:
        reply = await sae_a.request(method, target)
        assert 400 <= reply.status < 500, (method, target)
        _assert_error_body(reply.body)


def _kme_context(lab_spec: LabSpec, node: str) -> ssl.SSLContext:
    tls = lab_spec.directory / node / "tls"
    kme_id = lab_spec.node(node).kme_id
    return client_context(lab_spec.ca_cert, tls / f"{kme_id}.pem", tls / f"{kme_id}-key.pem")


async def _handshake_fails(lab_spec: LabSpec, context: ssl.SSLContext) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.get(url(lab_spec, A, SAE_B, "status"), ssl=context) as resp:
                await resp.read()


async def test_no_client_certificate_fails_handshake(lab: Lab, lab_spec: LabSpec) -> None:
    await _handshake_fails(lab_spec, client_context(lab_spec.ca_cert, None, None))


async def test_certificate_of_another_ca_fails_handshake(
    lab: Lab, lab_spec: LabSpec, tmp_path: object
) -> None:
    from pathlib import Path

    other = LabCA.create(Path(str(tmp_path)) / "other-ca")
    rogue = other.issue_sae_cert(SAE_A, Path(str(tmp_path)) / "rogue")
    await _handshake_fails(lab_spec, client_context(lab_spec.ca_cert, rogue.cert, rogue.key))


async def test_expired_certificate_fails_handshake(
    lab: Lab, lab_spec: LabSpec, tmp_path: object
) -> None:
    from pathlib import Path

    ca = LabCA.load(lab_spec.ca_cert, lab_spec.directory / "pki" / "ca-key.pem")
    past = datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC)
    expired = ca.issue_sae_cert(
        SAE_A,
        Path(str(tmp_path)) / "expired",
        not_valid_before=past,
        not_valid_after=past + datetime.timedelta(days=1),
    )
    await _handshake_fails(lab_spec, client_context(lab_spec.ca_cert, expired.cert, expired.key))


async def test_sae_cannot_call_peer_api_and_kme_cannot_call_sae_api(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, session: aiohttp.ClientSession
) -> None:
    assign = f"{lab_spec.node(B).kme_url}/peer/v1/links/hospital-a--hospital-b/assign"
    body = {"partition": 0, "groups": []}
    reply = await sae_a.request("POST", assign, json_body=body)
    assert reply.status in (400, 401)
    kme = Sae(session, _kme_context(lab_spec, A))
    reply = await kme.request("GET", url(lab_spec, A, SAE_B, "enc_keys"))
    assert reply.status == 401


async def test_peer_cannot_assign_into_our_partition(
    lab: Lab, lab_spec: LabSpec, session: aiohttp.ClientSession
) -> None:
    """KME a owns partition 0; it must not make KME b hand out b's own partition (1)."""
    kme_a = Sae(session, _kme_context(lab_spec, A))
    assign = f"{lab_spec.node(B).kme_url}/peer/v1/links/hospital-a--hospital-b/assign"
    group = {
        "master_SAE_ID": SAE_A,
        "slave_SAE_IDs": [SAE_B],
        "keys": [[str(uuid.uuid4()), 0, 32]],
    }
    reply = await kme_a.request("POST", assign, json_body={"partition": 1, "groups": [group]})
    assert reply.status == 400
    # Its own partition is accepted, and a replay of the same range is refused.
    reply = await kme_a.request("POST", assign, json_body={"partition": 0, "groups": [group]})
    assert reply.status == 200
    group["keys"] = [[str(uuid.uuid4()), 0, 32]]
    replay = await kme_a.request("POST", assign, json_body={"partition": 0, "groups": [group]})
    assert replay.status == 400


async def test_logs_never_carry_key_bytes(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=8")
    keys = [base64.b64decode(k["key"]) for k in enc.body["keys"]]  # type: ignore[union-attr]
    ids = [k["key_ID"] for k in enc.body["keys"]]  # type: ignore[union-attr]
    await sae_b.request(
        "POST",
        url(lab_spec, B, SAE_A, "dec_keys"),
        json_body={"key_IDs": [{"key_ID": i} for i in ids]},
    )
    await lab.stop_node(B)  # provoke the failure paths too (peer unreachable)
    await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=8")
    text = "\n".join(r.getMessage() + repr(r.args) + str(r.exc_info) for r in caplog.records)
    assert caplog.records  # the failure path logged something
    for key in keys:
        for form in (key.hex(), base64.b64encode(key).decode(), repr(key)):
            assert form not in text


async def test_peer_unreachable_gives_503_and_no_key(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae
) -> None:
    # Measure once the pool is full (ingestion paused), so new material cannot mask a leak.
    for _ in range(200):
        status = await sae_a.request("GET", url(lab_spec, A, SAE_B, "status"))
        before = status.body["stored_key_count"]
        if before == status.body["max_key_count"]:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the pool never filled")
    await lab.stop_node(B)
    reply = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=4")
    assert reply.status == 503
    _assert_error_body(reply.body)
    assert "keys" not in reply.body
    # The reserved bytes are burned, never returned to the pool.
    after = await sae_a.request("GET", url(lab_spec, A, SAE_B, "status"))
    assert isinstance(before, int)
    assert after.body["stored_key_count"] <= before  # type: ignore[operator]
