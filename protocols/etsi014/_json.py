"""Strict JSON in and canonical JSON out for the ETSI 014 data formats (RFC 8259, clause 5.1).

Strict means: UTF-8 only, one JSON object at the top, no duplicate member names, no NaN or
Infinity, integers never given as floats or booleans, no unknown members, and a byte cap checked
before anything is decoded. Any violation is one `ParseError` with the 400 Error body.
"""

from __future__ import annotations

import base64
import binascii
import json
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


def fail(reason: str, field: str | None = None) -> NoReturn:
    """Raise the parse error: message per Tables 4/6/8, the reason as a detail object."""
    # Imported here: ErrorBody's own parser uses this module (an import cycle otherwise).
    from protocols.etsi014._error_body import ErrorBody

    detail: JsonObject = {"reason": reason}
    if field is not None:
        # The name may come from the peer (an unknown member): bounded before it is echoed.
        detail = {"field": field[:_MAX_ECHOED_NAME], "reason": reason}
    raise ParseError(ErrorBody(MSG_BAD_REQUEST_FORMAT, (detail,)))


def _reject_constant(name: str) -> NoReturn:
    fail(f"{name} is not valid JSON (RFC 8259 section 6)")


def _unique_members(pairs: list[tuple[str, JsonValue]]) -> JsonObject:
    obj: JsonObject = {}
    for name, value in pairs:
        if name in obj:
            # RFC 8259 section 4: names SHOULD be unique; a duplicate is ambiguous, so refuse it.
            fail("duplicate member name", name)
        obj[name] = value
    return obj


def load_object(data: bytes | str, *, max_bytes: int, allow_empty: bool = False) -> JsonObject:
    """Decode one JSON object from `data` (UTF-8), strictly; `b""` is `{}` when `allow_empty`.

    Raises:
        ParseError: over `max_bytes`, not UTF-8, not JSON, or not an object at the top.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
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
    return value


def canonical_json(obj: Mapping[str, JsonValue]) -> bytes:
    """Serialize compactly as UTF-8 (members in the order given, no insignificant whitespace).

    Raises:
        LocalProtocolError: an extension value is not representable in JSON.
    """
    try:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"value not representable in JSON: {exc}") from None
    return text.encode("utf-8")


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
