"""Key request data format (ETSI GS QKD 014 clause 6.2, Table 10): the body of `enc_keys`."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.errors import LocalProtocolError
from protocols.etsi014 import _json, _query
from protocols.etsi014._json import JsonObject

__all__ = ["REQUEST_MAX_BYTES", "KeyRequest"]

# Request bodies are small (Table 10 has five optional members); the cap bounds a hostile body's
# cost before it is decoded. A KME may pass a different cap to `from_json`.
REQUEST_MAX_BYTES = 64 * 1024

_QUERY_NAMES = frozenset({"number", "size"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """Table 10. Every member is optional; the bounds that depend on the KME (Status) are checked
    by `validate_key_request`, not here."""

    number: int = 1
    """Number of keys requested ("number"); the spec's default is 1."""
    size: int | None = None
    """Size of each key in bits ("size"); None means the Status key_size (the spec's default)."""
    additional_slave_sae_ids: tuple[str, ...] = ()
    """Further slave SAEs that share the keys ("additional_slave_SAE_IDs")."""
    extension_mandatory: tuple[JsonObject, ...] = field(default=())
    """Name/value objects the KME shall handle or refuse ("extension_mandatory")."""
    extension_optional: tuple[JsonObject, ...] = field(default=())
    """Name/value objects the KME may ignore ("extension_optional")."""

    def __post_init__(self) -> None:
        if not _is_int(self.number):
            raise LocalProtocolError("KeyRequest.number must be an integer")
        if self.size is not None and not _is_int(self.size):
            raise LocalProtocolError("KeyRequest.size must be an integer or None")
        ids = self.additional_slave_sae_ids
        if not isinstance(ids, tuple) or not all(isinstance(i, str) and i for i in ids):
            raise LocalProtocolError("additional_slave_SAE_IDs must be non-empty strings")
        if len(set(ids)) != len(ids):
            raise LocalProtocolError("additional_slave_SAE_IDs must not repeat an SAE ID")
        for name in ("extension_mandatory", "extension_optional"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(e, dict) for e in value):
                raise LocalProtocolError(f"KeyRequest.{name} must be a tuple of objects")

    @property
    def is_simple(self) -> bool:
        """True when only number and/or size are set: the GET form is allowed (clause 6.2)."""
        return not (
            self.additional_slave_sae_ids or self.extension_mandatory or self.extension_optional
        )

    def to_dict(self) -> JsonObject:
        """The JSON object of Table 10 ("number" always, the rest only when set)."""
        obj: JsonObject = {"number": self.number}
        if self.size is not None:
            obj["size"] = self.size
        if self.additional_slave_sae_ids:
            obj["additional_slave_SAE_IDs"] = list(self.additional_slave_sae_ids)
        if self.extension_mandatory:
            obj["extension_mandatory"] = [dict(e) for e in self.extension_mandatory]
        if self.extension_optional:
            obj["extension_optional"] = [dict(e) for e in self.extension_optional]
        return obj

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON bytes (the POST body)."""
        return _json.canonical_json(self.to_dict())

    def to_query(self) -> str:
        """The GET query string of clause 6.2 (`number=3&size=1024`).

        Raises:
            LocalProtocolError: the request has members only POST can carry.
        """
        if not self.is_simple:
            raise LocalProtocolError("only number and size may be sent in the GET form")
        query = f"number={self.number}"
        if self.size is not None:
            query += f"&size={self.size}"
        return query

    @classmethod
    def from_dict(cls, obj: _json.JsonValue) -> KeyRequest:
        """Parse a decoded JSON value.

        Raises:
            ParseError: not a Key request per Table 10.
        """
        r = _json.ObjectReader(obj, "")
        number = r.integer("number", required=False)
        size = r.integer("size", required=False)
        ids = r.string_array("additional_slave_SAE_IDs")
        mandatory = r.object_array("extension_mandatory")
        optional = r.object_array("extension_optional")
        r.finish()
        try:
            return cls(
                number=1 if number is None else number,
                size=size,
                additional_slave_sae_ids=ids,
                extension_mandatory=mandatory,
                extension_optional=optional,
            )
        except LocalProtocolError as exc:
            _json.fail(str(exc))

    @classmethod
    def from_json(cls, data: bytes | str, *, max_bytes: int = REQUEST_MAX_BYTES) -> KeyRequest:
        """Parse a POST body strictly; an empty body is the empty Key request (clause 6.2).

        Raises:
            ParseError: not a Key request per Table 10, or over `max_bytes`.
        """
        return cls.from_dict(_json.load_object(data, max_bytes=max_bytes, allow_empty=True))

    @classmethod
    def from_query(cls, query: str) -> KeyRequest:
        """Parse the GET form's raw query string (without "?"), e.g. `number=3&size=1024`.

        Raises:
            ParseError: a parameter other than number/size, repeated, or not decimal digits.
        """
        values = _query.parse_query(query, allowed=_QUERY_NAMES, repeatable=frozenset())
        number = values.get("number")
        size = values.get("size")
        return cls(
            number=1 if number is None else _query.query_integer(number[0], "number"),
            size=None if size is None else _query.query_integer(size[0], "size"),
        )
