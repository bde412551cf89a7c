"""Key IDs data format (ETSI GS QKD 014 clause 6.4, Table 12): the body of `dec_keys`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from protocols.errors import LocalProtocolError
from protocols.etsi014 import _json, _query
from protocols.etsi014._json import JsonObject

__all__ = ["KEY_IDS_MAX_BYTES", "KeyIdEntry", "KeyIds"]

# One entry is ~60 bytes; 1 MiB allows some 16,000 IDs, more than any KME's max_key_per_request.
KEY_IDS_MAX_BYTES = 1024 * 1024

_QUERY_NAMES = frozenset({"key_ID"})

# The plain form every client sends, {"key_IDs":[{"key_ID":"<uuid>"}, ...]}, with any JSON
# whitespace (RFC 8259 section 2: space, tab, LF, CR). A body of exactly this shape is valid
# JSON with no duplicate member, no escape and no extension, so its only remaining checks are
# the UUID form (in the pattern) and duplicate IDs; `from_json` parses it without building the
# generic JSON tree. Anything else, including a duplicate ID, takes the generic strict path, so
# the fast path accepts and rejects exactly what that path does (pinned by a hypothesis test).
_PLAIN_BODY = re.compile(
    rb'<ws>\{<ws>"key_IDs"<ws>:<ws>\[<entry>(?:,<entry>)*\]<ws>\}<ws>'.replace(
        b"<entry>", rb'<ws>\{<ws>"key_ID"<ws>:<ws>"<uuid>"<ws>\}<ws>'
    )
    .replace(b"<uuid>", rb"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
    .replace(b"<ws>", rb"[ \t\n\r]*")
)
# In a body matching _PLAIN_BODY only the key IDs hold 8 hex digits in a row.
_UUID_IN_BODY = re.compile(rb"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


@dataclass(frozen=True, slots=True)
class KeyIdEntry:
    """One item of "key_IDs"."""

    key_id: uuid.UUID
    """ID of the key ("key_ID", UUID format)."""
    key_id_extension: JsonObject | None = None
    """(Option) for future use ("key_ID_extension")."""

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, uuid.UUID):
            raise LocalProtocolError("KeyIdEntry.key_id must be a uuid.UUID")
        if self.key_id_extension is not None and not isinstance(self.key_id_extension, dict):
            raise LocalProtocolError("KeyIdEntry.key_id_extension must be an object")

    def to_dict(self) -> JsonObject:
        """The JSON object of one Table 12 item."""
        return _json.optional_members(
            [
                ("key_ID", _json.format_uuid(self.key_id)),
                ("key_ID_extension", self.key_id_extension),
            ]
        )


@dataclass(frozen=True, slots=True)
class KeyIds:
    """Table 12: at least one key ID, none repeated."""

    key_ids: tuple[KeyIdEntry, ...]
    """The requested key IDs ("key_IDs"), in request order."""
    key_ids_extension: JsonObject | None = field(default=None)
    """(Option) for future use ("key_IDs_extension")."""

    def __post_init__(self) -> None:
        if not isinstance(self.key_ids, tuple) or not self.key_ids:
            raise LocalProtocolError("key_IDs must be a non-empty tuple")
        if not all(isinstance(e, KeyIdEntry) for e in self.key_ids):
            raise LocalProtocolError("key_IDs items must be KeyIdEntry")
        # Compared by value (.int: UUID equality) without UUID.__hash__'s Python-level call.
        if len({e.key_id.int for e in self.key_ids}) != len(self.key_ids):
            # A repeated ID would ask for one key twice; clause 5.4 delivers each key once.
            raise LocalProtocolError("key_IDs must not repeat a key ID")
        if self.key_ids_extension is not None and not isinstance(self.key_ids_extension, dict):
            raise LocalProtocolError("KeyIds.key_ids_extension must be an object")

    @classmethod
    def of(cls, ids: Iterable[uuid.UUID]) -> KeyIds:
        """Key IDs without extensions.

        Raises:
            LocalProtocolError: no ID, or one repeated.
        """
        return cls(tuple(KeyIdEntry(i) for i in ids))

    @property
    def ids(self) -> tuple[uuid.UUID, ...]:
        """The bare key IDs, in request order."""
        return tuple(e.key_id for e in self.key_ids)

    @property
    def is_simple(self) -> bool:
        """True when the GET form is allowed: one key ID, no extension (clause 6.4)."""
        return (
            len(self.key_ids) == 1
            and self.key_ids_extension is None
            and self.key_ids[0].key_id_extension is None
        )

    def to_dict(self) -> JsonObject:
        """The JSON object of Table 12."""
        obj: JsonObject = {"key_IDs": [e.to_dict() for e in self.key_ids]}
        if self.key_ids_extension is not None:
            obj["key_IDs_extension"] = self.key_ids_extension
        return obj

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON bytes (the POST body)."""
        return _json.canonical_json(self.to_dict())

    def to_query(self) -> str:
        """The GET query string of clause 6.4 (`key_ID=…`).

        Raises:
            LocalProtocolError: more than one key ID or an extension (POST is required).
        """
        if not self.is_simple:
            raise LocalProtocolError("only a single key ID without extensions may use GET")
        return f"key_ID={_json.format_uuid(self.key_ids[0].key_id)}"

    @classmethod
    def from_dict(cls, obj: _json.JsonValue) -> KeyIds:
        """Parse a decoded JSON value.

        Raises:
            ParseError: not Key IDs per Table 12 (also empty, or a key ID repeated).
        """
        r = _json.ObjectReader(obj, "")
        items = r.array("key_IDs", required=True) or []
        entries: list[KeyIdEntry] = []
        seen: set[uuid.UUID] = set()
        for index, item in enumerate(items):
            path = f"key_IDs[{index}]"
            ir = _json.ObjectReader(item, path)
            key_id = _json.parse_uuid(ir.string("key_ID"), f"{path}.key_ID")
            extension = ir.optional_object("key_ID_extension")
            ir.finish()
            if key_id in seen:
                _json.fail("duplicate key ID", f"{path}.key_ID")
            seen.add(key_id)
            entries.append(KeyIdEntry(key_id, extension))
        extension = r.optional_object("key_IDs_extension")
        r.finish()
        if not entries:
            _json.fail("at least one key ID is required", "key_IDs")
        return cls(tuple(entries), extension)

    @classmethod
    def from_json(cls, data: bytes | str, *, max_bytes: int = KEY_IDS_MAX_BYTES) -> KeyIds:
        """Parse a POST body strictly.

        Raises:
            ParseError: not Key IDs per Table 12, or over `max_bytes`.
        """
        if isinstance(data, bytes) and len(data) <= max_bytes and _PLAIN_BODY.fullmatch(data):
            texts = _UUID_IN_BODY.findall(data)
            values = [int(t.replace(b"-", b""), 16) for t in texts]
            if len(set(values)) == len(values):
                return cls(tuple(KeyIdEntry(uuid.UUID(int=v)) for v in values))
            # A repeated ID: the strict path below names it in the error.
        return cls.from_dict(_json.load_object(data, max_bytes=max_bytes))

    @classmethod
    def from_query(cls, query: str) -> KeyIds:
        """Parse the GET form's raw query string, `key_ID=…` (repetition accepted, as clients
        that batch IDs in GET do; each ID at most once).

        Raises:
            ParseError: no key_ID, another parameter, a malformed UUID or a repeated ID.
        """
        values = _query.parse_query(query, allowed=_QUERY_NAMES, repeatable=_QUERY_NAMES)
        texts = values.get("key_ID")
        if not texts:
            _json.fail("at least one key ID is required", "key_ID")
        ids = [_json.parse_uuid(t, "key_ID") for t in texts]
        if len(set(ids)) != len(ids):
            _json.fail("duplicate key ID", "key_ID")
        return cls.of(ids)
