"""Hostile input only ever raises the parse error (STYLE.md 13), and valid models round-trip."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.etsi014 import (
    ErrorBody,
    Key,
    KeyContainer,
    KeyIds,
    KeyRequest,
    ParseError,
    Status,
)

_PARSERS: list[Callable[[bytes], object]] = [
    Status.from_json,
    KeyRequest.from_json,
    KeyContainer.from_json,
    KeyIds.from_json,
    ErrorBody.from_json,
]

_MEMBER_NAMES = st.sampled_from(
    [
        "number",
        "size",
        "additional_slave_SAE_IDs",
        "extension_mandatory",
        "extension_optional",
        "keys",
        "key_ID",
        "key",
        "key_IDs",
        "key_ID_extension",
        "key_extension",
        "key_container_extension",
        "key_IDs_extension",
        "message",
        "details",
        "source_KME_ID",
        "target_KME_ID",
        "master_SAE_ID",
        "slave_SAE_ID",
        "key_size",
        "stored_key_count",
        "max_key_count",
        "max_key_per_request",
        "max_key_size",
        "min_key_size",
        "max_SAE_ID_count",
        "status_extension",
    ]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.uuids().map(str)
    | st.binary(max_size=16).map(lambda b: base64.b64encode(b).decode())
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_MEMBER_NAMES | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


def _error_of(parse: Callable[[Any], object], data: Any) -> ParseError | None:
    """Run a parser; return its ParseError, if any (any other exception fails the test)."""
    try:
        parse(data)
    except ParseError as exc:
        return exc
    return None


def _only_parse_error(data: bytes) -> None:
    for parse in _PARSERS:
        error = _error_of(parse, data)
        if error is not None:
            assert error.status == 400
            assert error.error.message == "bad request format"
            assert json.loads(error.error.to_json())["details"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    _only_parse_error(data)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_arbitrary_json(value: Any) -> None:
    _only_parse_error(json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_queries(query: str) -> None:
    for parse in (KeyRequest.from_query, KeyIds.from_query):
        error = _error_of(parse, query)
        if error is not None:
            assert error.error.message == "bad request format"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.uuids(), st.binary(min_size=1, max_size=64)),
        min_size=1,
        max_size=8,
        unique_by=lambda t: t[0],
    )
)
def test_key_container_round_trip(items: list[tuple[uuid.UUID, bytes]]) -> None:
    container = KeyContainer(tuple(Key(i, k) for i, k in items))
    parsed = KeyContainer.from_json(container.to_json())
    assert parsed == container
    assert [k.key for k in parsed.keys] == [k for _, k in items]
    ids = KeyIds.of(parsed.key_ids)
    assert KeyIds.from_json(ids.to_json()) == ids


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**40),
    st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40)),
    st.lists(st.text(min_size=1, max_size=10), unique=True, max_size=3),
)
def test_key_request_round_trip(number: int, size: int | None, ids: list[str]) -> None:
    request = KeyRequest(number=number, size=size, additional_slave_sae_ids=tuple(ids))
    assert KeyRequest.from_json(request.to_json()) == request
    size_fits = size is None or 0 <= size < 10**9
    if request.is_simple and 0 <= number < 10**9 and size_fits:
        assert KeyRequest.from_query(request.to_query()) == request


def _valid_bodies() -> list[bytes]:
    from ._vectors import body_bytes, load

    out = []
    for name in ("status.json", "key_request.json", "key_container.json", "key_ids.json"):
        out += [body_bytes(v) for v in load(name)["vectors"] if v["outcome"] == "valid"]
    return [b for b in out if b]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupted_spec_examples(data: st.DataObject) -> None:
    body = bytearray(data.draw(st.sampled_from(_valid_bodies())))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        body[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(body)))
    _only_parse_error(bytes(body[:cut]))
