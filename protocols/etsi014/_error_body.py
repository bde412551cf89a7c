"""Error data format (ETSI GS QKD 014 clause 6.5, Table 13): the body of 400 and 503 responses."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.errors import LocalProtocolError
from protocols.etsi014 import _json
from protocols.etsi014._json import JsonObject

__all__ = ["ERROR_MAX_BYTES", "ErrorBody"]

# An Error body is a message and a few details; 64 KiB is far above any honest one.
ERROR_MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """Table 13: an error message and optional name/value detail objects."""

    message: str
    """Error message ("message", string)."""
    details: tuple[JsonObject, ...] = field(default=())
    """(Option) additional detail objects ("details", array of objects); empty when absent."""

    def __post_init__(self) -> None:
        if not isinstance(self.message, str):
            raise LocalProtocolError("ErrorBody.message must be a string")
        if not all(isinstance(d, dict) for d in self.details):
            raise LocalProtocolError("ErrorBody.details must be objects")

    def to_dict(self) -> JsonObject:
        """The JSON object of Table 13 ("details" left out when empty)."""
        obj: JsonObject = {"message": self.message}
        if self.details:
            obj["details"] = [dict(d) for d in self.details]
        return obj

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON bytes."""
        return _json.canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, obj: _json.JsonValue) -> ErrorBody:
        """Parse a decoded JSON value.

        Raises:
            ParseError: not an Error per Table 13.
        """
        reader = _json.ObjectReader(obj, "")
        message = reader.string("message")
        details = reader.object_array("details")
        reader.finish()
        return cls(message, details)

    @classmethod
    def from_json(cls, data: bytes | str, *, max_bytes: int = ERROR_MAX_BYTES) -> ErrorBody:
        """Parse Error JSON bytes strictly.

        Raises:
            ParseError: not an Error per Table 13, or over `max_bytes`.
        """
        return cls.from_dict(_json.load_object(data, max_bytes=max_bytes))
