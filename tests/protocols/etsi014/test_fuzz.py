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
# Lone surrogates (U+D800..U+DFFF): `json.dumps` writes them as "\\ud800"-style escapes, which
# decode to strings with no UTF-8 form (RFC 7493 section 2.1). st.text() never draws them.
_SURROGATES = st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)
_HOSTILE_TEXT = st.lists(st.characters() | _SURROGATES, max_size=12).map("".join)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | _HOSTILE_TEXT
    | st.uuids().map(str)
    | st.binary(max_size=16).map(lambda b: base64.b64encode(b).decode())
)
_NAMES = _MEMBER_NAMES | st.text(max_size=8) | _HOSTILE_TEXT
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_NAMES, inner, max_size=5),
    max_leaves=20,
)

# JSON text built directly, for what no Python value serializes to: number literals around and
# beyond IEEE 754 double range (1e400 would decode to infinity, RFC 7493 section 2.2), the
# NaN/Infinity literals, and duplicate member names.
_BIG_NUMBERS = st.builds(
    "{}{}{}e{}".format,
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["", ".5", ".0001"]),
    st.integers(min_value=290, max_value=100_000) | st.integers(min_value=-100_000, max_value=-300),
)
_SCALAR_TEXT = (
    _SCALARS.map(json.dumps)
    | _BIG_NUMBERS
    | st.sampled_from(["NaN", "Infinity", "-Infinity", "1.7976931348623157e308", "1.8e308"])
)


def _object_text(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(name)}:{value}" for name, value in members) + "}"


_JSON_TEXT = st.recursive(
    _SCALAR_TEXT,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(_NAMES, inner), max_size=5).map(_object_text)
    ),
    max_leaves=20,
)
_OBJECT_TEXT = st.lists(st.tuples(_NAMES, _JSON_TEXT), max_size=6).map(_object_text)


def _outcome(parse: Callable[[Any], object], data: Any) -> tuple[Any, ParseError | None]:
    """Run a parser: (value, None), or (None, its ParseError); any other exception fails."""
    try:
        return parse(data), None
    except ParseError as exc:
        return None, exc


def _error_of(parse: Callable[[Any], object], data: Any) -> ParseError | None:
    """Run a parser; return its ParseError, if any (any other exception fails the test)."""
    return _outcome(parse, data)[1]


def _only_parse_error(data: bytes) -> None:
    """Each parser either refuses with a well-formed 400 Error body, or accepts a value that
    serializes again: a KME can always answer, whatever it was sent."""
    for parse in _PARSERS:
        obj, error = _outcome(parse, data)
        if error is None:
            assert type(obj).from_json(obj.to_json()) == obj
            continue
        assert error.status == 400
        assert error.error.message == "bad request format"
        body = error.error.to_json()
        assert json.loads(body)["details"]
        assert ErrorBody.from_json(body) == error.error


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    _only_parse_error(data)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_arbitrary_json(value: Any) -> None:
    _only_parse_error(json.dumps(value).encode())


@settings(max_examples=400, deadline=None)
@given(_OBJECT_TEXT)
def test_arbitrary_json_text(text: str) -> None:
    _only_parse_error(text.encode())


# Where a hostile member can sit: at the top (an unknown member, echoed back by name), or inside
# an extension or details object that a parser takes as it is.
_PLACES = st.sampled_from(
    [
        "{}",
        '{{"extension_optional":[{}]}}',
        '{{"extension_mandatory":[{}]}}',
        '{{"message":"m","details":[{}]}}',
        '{{"keys":[{{"key_ID":"bc490419-7d60-487f-adc1-4ddcc177c139","key":"AA==",'
        '"key_extension":{}}}]}}',
    ]
)


@settings(max_examples=300, deadline=None)
@given(_PLACES, _NAMES, _BIG_NUMBERS | _HOSTILE_TEXT.map(json.dumps))
def test_hostile_member_anywhere(place: str, name: str, value: str) -> None:
    data = place.format(_object_text([(name, value)])).encode()
    _only_parse_error(data)
    for parse in _PARSERS:
        error = _error_of(parse, data)
        if error is not None:  # an echoed name is bounded
            assert len(error.error.to_json()) < 400


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
