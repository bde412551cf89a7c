"""The strict JSON layer (`protocols/etsi014/_json.py`): I-JSON rules (RFC 7493) on input, and a
serializer that fails only with its documented error, so no Error body can fail to encode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocols.errors import LocalProtocolError
from protocols.etsi014 import ErrorBody, KeyRequest, ParseError
from protocols.etsi014._json import canonical_json, echo_name, load_object

_SURROGATE_REASON = "string holds a surrogate code point (RFC 7493 section 2.1)"
_RANGE_REASON = "number is out of range (RFC 7493 section 2.2)"


def _reason(data: bytes | str) -> str:
    with pytest.raises(ParseError) as info:
        load_object(data, max_bytes=1 << 20)
    (detail,) = info.value.error.details
    # Whatever was refused, the Error body to answer with encodes and parses back.
    assert ErrorBody.from_json(info.value.error.to_json()) == info.value.error
    return str(detail["reason"])


@pytest.mark.parametrize(
    "body",
    [
        b'{"\\ud800": 1}',
        b'{"a": "\\udfff"}',
        b'{"a": "ok\\uDC00ok"}',
        b'{"a": {"b": {"\\udbff": null}}}',
        b'{"a": [1, [2, ["\\ud800"]]]}',
        b'{"a": "\\ude00\\ud83d"}',  # a pair in the wrong order is two lone surrogates
        b'{"\\ud800": 1, "\\ud800": 2}',
    ],
)
def test_lone_surrogates_are_refused_anywhere(body: bytes) -> None:
    assert _reason(body) == _SURROGATE_REASON


def test_surrogate_deep_in_nesting_is_found_without_recursion() -> None:
    depth = 500
    body = b'{"a":' + b"[" * depth + b'"\\ud800"' + b"]" * depth + b"}"
    assert _reason(body) == _SURROGATE_REASON


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # a valid pair is one character
        (b'{"a": "\\\\ud800"}', {"a": "\\ud800"}),  # escaped backslash: no surrogate
        (b'{"a": "\\u00e9"}', {"a": "\u00e9"}),
        (b'{"a": 1e-400}', {"a": 0.0}),  # underflow is representable (it rounds to zero)
        (b'{"a": -1.7976931348623157e308}', {"a": -1.7976931348623157e308}),
    ],
)
def test_representable_values_are_accepted(body: bytes, expected: dict[str, Any]) -> None:
    value = load_object(body, max_bytes=1 << 20)
    assert value == expected
    assert json.loads(canonical_json(value)) == expected


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1.8e308", b"123456789e999999999"])
def test_numbers_beyond_double_range_are_refused(number: bytes) -> None:
    assert _reason(b'{"a": [' + number + b"]}") == _RANGE_REASON


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_literals_are_refused(literal: bytes) -> None:
    assert _reason(b'{"a": ' + literal + b"}") == (
        f"{literal.decode()} is not valid JSON (RFC 8259 section 6)"
    )


def test_text_with_a_lone_surrogate_is_not_utf8() -> None:
    assert _reason('{"a": "\ud800"}') == "body is not UTF-8 (clause 5.1, Table 1)"


def _deeply_nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def _cycle() -> Any:
    items: list[Any] = []
    items.append(items)
    return items


@pytest.mark.parametrize(
    "value",
    [
        "\ud800",
        float("inf"),
        float("nan"),
        object(),
        b"bytes",
        _cycle(),
        _deeply_nested(100_000),
    ],
    ids=["surrogate", "inf", "nan", "object", "bytes", "cycle", "deep"],
)
def test_canonical_json_fails_only_with_local_protocol_error(value: Any) -> None:
    with pytest.raises(LocalProtocolError) as info:
        canonical_json({"a": value})
    assert str(info.value).isascii()  # never quotes the value itself
    with pytest.raises(LocalProtocolError):
        canonical_json({"\udc00": 1})


def test_echo_name_is_bounded_and_encodable() -> None:
    assert echo_name("abc_route_type") == "abc_route_type"
    assert echo_name("a\ud800b\udfff") == "a\ufffdb\ufffd"
    long = echo_name("\ud800" * 5000)
    assert len(long) == 100
    long.encode("utf-8")


def test_details_naming_a_member_stay_small_and_encodable() -> None:
    # A member name of a locally built dict can hold anything; the echo is still safe.
    with pytest.raises(ParseError) as info:
        KeyRequest.from_dict({"\ud800" * 1000: 1})
    body = info.value.error.to_json()
    assert len(body) < 500
    expected = {"field": "\ufffd" * 100, "reason": "unknown member"}
    assert ErrorBody.from_json(body).details == (expected,)
