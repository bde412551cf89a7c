"""The data formats of ETSI GS QKD 014 clause 6 against the vector files (spec examples first).

Valid vectors must parse and serialize to their canonical bytes, which must parse back to an
equal object; negative vectors must raise exactly the named exception with exactly its Error body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocols.etsi014 import (
    BadRequestError,
    ErrorBody,
    KeyContainer,
    KeyIds,
    KeyRequest,
    ParseError,
    RejectedRequestError,
    Status,
    validate_key_request,
)

from ._vectors import body_bytes, cases, load

_EXCEPTIONS: dict[str, type[BadRequestError]] = {
    "ParseError": ParseError,
    "RejectedRequestError": RejectedRequestError,
}


def _check(parse: Any, vector: dict[str, Any], data: Any) -> Any:
    if vector["outcome"] == "valid":
        obj = parse(data)
        canonical = vector["canonical"].encode("utf-8")
        assert obj.to_json() == canonical
        assert type(obj).from_json(canonical) == obj
        return obj
    with pytest.raises(_EXCEPTIONS[vector["outcome"]]) as info:
        parse(data)
    assert type(info.value) is _EXCEPTIONS[vector["outcome"]]
    assert info.value.status == 400
    assert info.value.error.to_dict() == vector["error"]
    assert ErrorBody.from_json(info.value.error.to_json()) == info.value.error
    return None


@pytest.mark.parametrize("vector", cases("status.json"))
def test_status(vector: dict[str, Any]) -> None:
    _check(Status.from_json, vector, body_bytes(vector))


@pytest.mark.parametrize("vector", cases("key_request.json"))
def test_key_request(vector: dict[str, Any]) -> None:
    _check(KeyRequest.from_json, vector, body_bytes(vector))


@pytest.mark.parametrize("vector", cases("key_container.json"))
def test_key_container(vector: dict[str, Any]) -> None:
    container = _check(KeyContainer.from_json, vector, body_bytes(vector))
    if container is not None:
        assert [k.size for k in container.keys] == vector["key_sizes"]


@pytest.mark.parametrize("vector", cases("key_ids.json"))
def test_key_ids(vector: dict[str, Any]) -> None:
    _check(KeyIds.from_json, vector, body_bytes(vector))


@pytest.mark.parametrize("vector", cases("error.json"))
def test_error(vector: dict[str, Any]) -> None:
    _check(ErrorBody.from_json, vector, body_bytes(vector))


@pytest.mark.parametrize("vector", cases("query.json"))
def test_query(vector: dict[str, Any]) -> None:
    parse = KeyRequest.from_query if vector["kind"] == "key_request" else KeyIds.from_query
    obj = _check(parse, vector, vector["query"])
    if obj is not None and obj.is_simple:
        # The GET form round-trips through to_query().
        assert parse(obj.to_query()) == obj


@pytest.mark.parametrize("vector", cases("validation.json"))
def test_validation(vector: dict[str, Any]) -> None:
    status = Status.from_dict(load("validation.json")["status"])
    request = KeyRequest.from_json(json.dumps(vector["request"]).encode())
    supported = vector.get("supported_extensions", [])
    if vector["outcome"] == "valid":
        result = validate_key_request(request, status, supported_extensions=supported)
        expected = vector["validated"]
        assert result.number == expected["number"]
        assert result.size == expected["size"]
        assert list(result.additional_slave_sae_ids) == expected["additional_slave_sae_ids"]
        assert result.extension_mandatory == request.extension_mandatory
        assert result.extension_optional == request.extension_optional
        return
    with pytest.raises(RejectedRequestError) as info:
        validate_key_request(request, status, supported_extensions=supported)
    assert info.value.error.to_dict() == vector["error"]
