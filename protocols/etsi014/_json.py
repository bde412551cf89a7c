"""Strict JSON in and canonical JSON out for the ETSI 014 data formats (RFC 8259, clause 5.1).

Strict means: UTF-8 only, one JSON object at the top, no duplicate member names, no NaN or
Infinity, integers never given as floats or booleans, no unknown members, and a byte cap checked
before anything is decoded. On top of RFC 8259, the I-JSON rules (RFC 7493) that keep a parsed
value re-serializable: no string (member name or value) holding a surrogate code point from a
"\\uD800"-style escape (section 2.1), no number beyond IEEE 754 double range such as 1e400
(section 2.2). Any violation is one `ParseError` with the 400 Error body.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import NoReturn, TypeAlias

from protocols.errors import LocalProtocolError
from protocols.etsi014._errors import MSG_BAD_REQUEST_FORMAT, ParseError

__all__ = [
    "JsonObject",
    "JsonValue",
    "ObjectReader",
    "canonical_json",
    "decode_base64",
    "echo_name",
    "encode_base64",
    "fail",
    "format_uuid",
    "is_uuid_text",
    "load_object",
    "optional_members",
    "parse_uuid",
    "uuid_of_text",
]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

# RFC 4122 textual form only: 8-4-4-4-12 hex digits. `uuid.UUID()` alone would also accept braces,
# a "urn:uuid:" prefix or no hyphens, which clause 6.3's "UUID format" does not.
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Longest member name echoed back in an error detail.
_MAX_ECHOED_NAME = 100
# A surrogate code point (U+D800..U+DFFF) in a decoded string: it has no UTF-8 encoding.
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# A `\u` escape of a surrogate in JSON text (strictly decoded UTF-8 text can hold a surrogate only
# through such an escape). A cheap scan that decides whether the decoded value must be walked;
# an escaped backslash before "ud800" is a false positive that only costs the walk.
_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
_MSG_SURROGATE = "string holds a surrogate code point (RFC 7493 section 2.1)"


def echo_name(name: str) -> str:
    """A peer-supplied name made safe to echo in an Error body: at most `_MAX_ECHOED_NAME`
    characters, any surrogate replaced by U+FFFD so the body always encodes as UTF-8."""
    return _SURROGATE_RE.sub("\ufffd", name[:_MAX_ECHOED_NAME])


def fail(reason: str, field: str | None = None) -> NoReturn:
    """Raise the parse error: message per Tables 4/6/8, the reason as a detail object."""
    # Imported here: ErrorBody's own parser uses this module (an import cycle otherwise).
    from protocols.etsi014._error_body import ErrorBody

    detail: JsonObject = {"reason": reason}
    if field is not None:
        # The name may come from the peer (an unknown member): made safe before it is echoed.
        detail = {"field": echo_name(field), "reason": reason}
    raise ParseError(ErrorBody(MSG_BAD_REQUEST_FORMAT, (detail,)))


def _reject_constant(name: str) -> NoReturn:
    fail(f"{name} is not valid JSON (RFC 8259 section 6)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # RFC 7493 section 2.2: beyond IEEE 754 double range (1e400 would become inf, which
        # cannot be serialized back as JSON).
        fail("number is out of range (RFC 7493 section 2.2)")
    return value


def _reject_surrogates(value: JsonValue) -> None:
    """Refuse any string, member name or value, holding a surrogate code point (RFC 7493
    section 2.1: I-JSON strings are Unicode characters only; a lone surrogate has no UTF-8 form).
    Iterative, so a deeply nested value the decoder accepted cannot exhaust the stack here."""
    stack: list[JsonValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)  # the member names, as strings
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _SURROGATE_RE.search(item) is not None:
            fail(_MSG_SURROGATE)


def _unique_members(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    obj: JsonObject = {}
    for name, value in pairs:
        if name in obj:
            if _SURROGATE_RE.search(name) is not None:
                fail(_MSG_SURROGATE)  # the more basic fault: reported before the duplicate
            # RFC 8259 section 4: names SHOULD be unique; a duplicate is ambiguous, so refuse it.
            fail("duplicate member name", name)
        obj[name] = value
    return obj


def load_object(data: bytes | str, *, max_bytes: int, allow_empty: bool = False) -> JsonObject:
    """Decode one JSON object from `data` (UTF-8), strictly; `b""` is `{}` when `allow_empty`.

    Raises:
        ParseError: over `max_bytes`, not UTF-8, not JSON, not I-JSON (a lone surrogate, a
            number beyond double range), or not an object at the top.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:  # a str holding a lone surrogate has no UTF-8 form
            fail("body is not UTF-8 (clause 5.1, Table 1)")
    else:
        raw = data
    if len(raw) > max_bytes:
        fail(f"body is larger than {max_bytes} bytes")
    if allow_empty and raw.strip(b" \t\r\n") == b"":
        return {}
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            object_pairs_hook=_unique_members,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except ParseError:
        raise
    except UnicodeDecodeError:
        fail("body is not UTF-8 (clause 5.1, Table 1)")
    except (ValueError, RecursionError):
        # ValueError: JSON syntax, or an integer longer than Python's digit limit;
        # RecursionError: nesting deeper than the decoder's stack.
        fail("body is not valid JSON (RFC 8259)")
    if not isinstance(value, dict):
        fail("body is not a JSON object")
    if _SURROGATE_ESCAPE_RE.search(text) is not None:
        _reject_surrogates(value)
    return value


def canonical_json(obj: Mapping[str, JsonValue]) -> bytes:
    """Serialize compactly as UTF-8 (members in the order given, no insignificant whitespace).

    Raises:
        LocalProtocolError: a value is not representable in JSON: not a JSON type, NaN or
            infinite, a string with a lone surrogate (no UTF-8 form), a cycle, or nested
            deeper than the encoder's stack. Nothing else escapes.
    """
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        # Inside the try: UnicodeEncodeError (a lone surrogate) is a ValueError.
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        # The exception type only: its text could quote a value, which may be key material.
        raise LocalProtocolError(f"value not representable in JSON: {type(exc).__name__}") from None


def is_uuid_text(text: str) -> bool:
    """Whether `text` is a UUID in RFC 4122 textual form (either case)."""
    return _UUID_RE.fullmatch(text) is not None


def uuid_of_text(text: str) -> uuid.UUID:
    """The UUID of a text already checked by `is_uuid_text` (the int constructor is faster)."""
    return uuid.UUID(int=int(text.replace("-", ""), 16))


def parse_uuid(text: str, field: str) -> uuid.UUID:
    """A key ID in RFC 4122 textual form (clauses 6.3/6.4), or the parse error."""
    if not is_uuid_text(text):
        fail("not a UUID in 8-4-4-4-12 hex form", field)
    return uuid_of_text(text)


def format_uuid(value: uuid.UUID) -> str:
    """The lowercase RFC 4122 form used on the wire."""
    return str(value)


def decode_base64(text: str, field: str) -> bytes:
    """Key data per clause 6.3 (base64, RFC 4648 section 4, padded), or the parse error."""
    try:
        # strict_mode: only the RFC 4648 section 4 alphabet, correct padding, nothing after it.
        return binascii.a2b_base64(text, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII string
        fail("not padded base64 (RFC 4648 section 4)", field)


def encode_base64(data: bytes) -> str:
    """Key data as padded base64 (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


class ObjectReader:
    """Reads the members of one JSON object by name and type, then refuses any left over."""

    __slots__ = ("_obj", "_path", "_seen")

    def __init__(self, obj: JsonValue, path: str) -> None:
        if not isinstance(obj, dict):
            fail("expected an object", path)
        self._obj: JsonObject = obj
        self._path = path
        self._seen: set[str] = set()

    def _name(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _get(self, name: str, required: bool) -> JsonValue:
        self._seen.add(name)
        if name not in self._obj:
            if required:
                fail("required member is missing", self._name(name))
            return None
        value = self._obj[name]
        if value is None:
            fail("null is not allowed", self._name(name))
        return value

    def string(self, name: str) -> str:
        """A required string member."""
        value = self._get(name, required=True)
        if not isinstance(value, str):
            fail("expected a string", self._name(name))
        return value

    def integer(self, name: str, *, required: bool = True) -> int | None:
        """An integer member; booleans and floats (even 1.0) are refused."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            fail("expected an integer", self._name(name))
        return value

    def required_integer(self, name: str) -> int:
        """A required integer member."""
        value = self.integer(name, required=True)
        if value is None:  # pragma: no cover - integer(required=True) never returns None
            fail("required member is missing", self._name(name))
        return value

    def optional_object(self, name: str) -> JsonObject | None:
        """An optional object member (the "(Option) for future use" extensions)."""
        value = self._get(name, required=False)
        if value is None:
            return None
        if not isinstance(value, dict):
            fail("expected an object", self._name(name))
        return value

    def array(self, name: str, *, required: bool) -> list[JsonValue] | None:
        """An array member."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list):
            fail("expected an array", self._name(name))
        return value

    def object_array(self, name: str) -> tuple[JsonObject, ...]:
        """An optional array of objects (extension_mandatory, extension_optional, details)."""
        items = self.array(name, required=False) or []
        out: list[JsonObject] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                fail("expected an object", f"{self._name(name)}[{index}]")
            out.append(item)
        return tuple(out)

    def string_array(self, name: str) -> tuple[str, ...]:
        """An optional array of strings."""
        items = self.array(name, required=False) or []
        out: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                fail("expected a string", f"{self._name(name)}[{index}]")
            out.append(item)
        return tuple(out)

    def finish(self) -> None:
        """Refuse members that the data format does not define."""
        unknown = sorted(set(self._obj) - self._seen)
        if unknown:
            fail("unknown member", self._name(unknown[0]))


def optional_members(pairs: Iterable[tuple[str, JsonValue | None]]) -> JsonObject:
    """Build a JSON object from (name, value) pairs, leaving out the absent (None) ones."""
    return {name: value for name, value in pairs if value is not None}
