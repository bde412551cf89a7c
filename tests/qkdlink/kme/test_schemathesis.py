"""schemathesis against a running KME with the OpenAPI description of ETSI GS QKD 014 V1.1.1.

The KME pair is a real lab (`qkdlink.lab`: two KMEs, one link, mutual TLS with the lab PKI) run
in a background thread; schemathesis drives `requests` with the SAE's client certificate.
Invariants checked on every response: no 5xx other than the spec's 503 (Tables 4, 6, 8); every
error body (400, 503, and a 401 if it carries one) is the Error data format of clause 6.5;
schema-invalid requests are refused (negative data rejection); and the schema's own status code,
content type and response schema conformance.

The OpenAPI file is used as is: its two `x-spec-note` places (Table 11's "Keys" versus the
example's "keys"; the master SAE ID in the dec_keys GET path) already describe what the KME
implements, so nothing needs adjusting. Bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from protocols.etsi014 import ErrorBody, ParseError
from qkdlink.lab import create_lab, run_lab

# The shared specs live beside the repository (`../shared/specs/`, see docs/client.md).
SPEC = Path(__file__).parent / "spec" / "etsi-gs-qkd-014-v1.1.1.openapi.yaml"

MAX_EXAMPLES = 40
pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class RunningLab:
    """A started two-node lab, seen from node a's SAE."""

    url: str
    ca: str
    cert: str
    key: str


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningLab]:
    spec = create_lab(tmp_path_factory.mktemp("lab"), nodes=("a", "b"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kme-lab", daemon=True)
    thread.start()
    context = run_lab(spec)
    asyncio.run_coroutine_threadsafe(context.__aenter__(), loop).result(timeout=60)
    try:
        node = spec.node("a")
        yield RunningLab(node.kme_url, str(spec.ca_cert), str(node.sae_cert), str(node.sae_key))
    finally:
        closing = context.__aexit__(None, None, None)
        asyncio.run_coroutine_threadsafe(closing, loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


# Loaded eagerly (the lazy `schemathesis.pytest.from_fixture` needs pytest internals that
# pytest 9 removed); the KME's URL is given per call.
schema = schemathesis.openapi.from_path(SPEC)
schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")


def server_error_problem(status: int) -> str | None:
    """Tables 4, 6 and 8: the only server-side error status is 503."""
    if status >= 500 and status != 503:
        return f"HTTP {status}: only 503 is a server error in ETSI GS QKD 014"
    return None


def error_body_problem(status: int, content_type: str, body: bytes) -> str | None:
    """Clause 6.5: 400 and 503 carry an Error body; a 401 may carry none, or an Error."""
    if status < 400 or (status == 401 and not body):
        return None
    media = content_type.split(";")[0].strip()
    if media != "application/json":
        return f"HTTP {status} error body is {media!r}, not application/json"
    try:
        ErrorBody.from_json(body)
    except ParseError as exc:
        return f"HTTP {status} body is not an Error (clause 6.5): {exc.error.details}"
    return None


def no_server_error_but_503(ctx: Any, response: Any, case: Any) -> bool:
    problem = server_error_problem(response.status_code)
    assert problem is None, problem
    return True


def error_body_in_spec_format(ctx: Any, response: Any, case: Any) -> bool:
    headers = {name.lower(): values for name, values in response.headers.items()}
    content_type = headers.get("content-type", [""])[0]
    problem = error_body_problem(response.status_code, content_type, response.content)
    assert problem is None, problem
    return True


@pytest.mark.parametrize(
    ("status", "content_type", "body", "bad"),
    [
        (400, "application/json", b'{"message":"size shall be a multiple of 8"}', False),
        (503, "application/json; charset=utf-8", b'{"message":"key data access error"}', False),
        (401, "", b"", False),
        (200, "application/json", b'{"keys":[]}', False),
        (400, "text/plain", b"400: Bad Request", True),
        (404, "text/plain", b"404: Not Found", True),
        (503, "application/json", b'{"error":"busy"}', True),
        (401, "application/json", b'{"message":1}', True),
    ],
)
def test_error_body_check_can_fail(status: int, content_type: str, body: bytes, bad: bool) -> None:
    assert (error_body_problem(status, content_type, body) is not None) is bad


def test_server_error_check_can_fail() -> None:
    assert server_error_problem(500) is not None
    assert server_error_problem(502) is not None
    assert server_error_problem(503) is None
    assert server_error_problem(400) is None


CHECKS = [
    no_server_error_but_503,
    error_body_in_spec_format,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
]


@schema.parametrize()
def test_kme_conforms_to_the_openapi_description(case: Any, running_lab: RunningLab) -> None:
    # Half of the cases name the SAE on the other end of the link, so that requests get past
    # authorization (401) into the KME's request validation and key delivery.
    if zlib.crc32(repr(case.path_parameters).encode()) % 2:
        for name in ("slave_SAE_ID", "master_SAE_ID"):
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = "SAE_b"
    case.call_and_validate(
        base_url=running_lab.url,
        checks=CHECKS,
        verify=running_lab.ca,
        cert=(running_lab.cert, running_lab.key),
        timeout=10,
    )
