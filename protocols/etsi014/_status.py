"""Status data format (ETSI GS QKD 014 clause 6.1, Table 9): what a KME can deliver to a pair."""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.errors import LocalProtocolError
from protocols.etsi014 import _json
from protocols.etsi014._json import JsonObject

__all__ = ["STATUS_MAX_BYTES", "Status"]

STATUS_MAX_BYTES = 64 * 1024

_INT_FIELDS = (
    "key_size",
    "stored_key_count",
    "max_key_count",
    "max_key_per_request",
    "max_key_size",
    "min_key_size",
    "max_sae_id_count",
)


@dataclass(frozen=True, slots=True)
class Status:
    """Table 9. Python names are the JSON names in snake case (`max_SAE_ID_count` ->
    `max_sae_id_count`, `source_KME_ID` -> `source_kme_id`, ...)."""

    source_kme_id: str
    """KME ID of the KME ("source_KME_ID")."""
    target_kme_id: str
    """KME ID of the target KME ("target_KME_ID")."""
    master_sae_id: str
    """SAE ID of the calling master SAE ("master_SAE_ID")."""
    slave_sae_id: str
    """SAE ID of the specified slave SAE ("slave_SAE_ID")."""
    key_size: int
    """Default key size in bits, the default of Key request "size"."""
    stored_key_count: int
    """Number of stored keys the KME can deliver to the SAE."""
    max_key_count: int
    """Maximum of stored_key_count."""
    max_key_per_request: int
    """Maximum number of keys per request."""
    max_key_size: int
    """Maximum key size in bits."""
    min_key_size: int
    """Minimum key size in bits."""
    max_sae_id_count: int
    """Maximum number of additional_slave_SAE_IDs; 0 when the KME does not support multicast."""
    status_extension: JsonObject | None = field(default=None)
    """(Option) for future use ("status_extension")."""

    def __post_init__(self) -> None:
        for name in ("source_kme_id", "target_kme_id", "master_sae_id", "slave_sae_id"):
            if not isinstance(getattr(self, name), str):
                raise LocalProtocolError(f"Status.{name} must be a string")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LocalProtocolError(f"Status.{name} must be a non-negative integer")
        if self.min_key_size < 1 or self.max_key_per_request < 1:
            raise LocalProtocolError("Status.min_key_size and max_key_per_request must be >= 1")
        if not self.min_key_size <= self.key_size <= self.max_key_size:
            raise LocalProtocolError("Status needs min_key_size <= key_size <= max_key_size")
        if self.status_extension is not None and not isinstance(self.status_extension, dict):
            raise LocalProtocolError("Status.status_extension must be an object")

    def to_dict(self) -> JsonObject:
        """The JSON object of Table 9, in the table's order."""
        return _json.optional_members(
            [
                ("source_KME_ID", self.source_kme_id),
                ("target_KME_ID", self.target_kme_id),
                ("master_SAE_ID", self.master_sae_id),
                ("slave_SAE_ID", self.slave_sae_id),
                ("key_size", self.key_size),
                ("stored_key_count", self.stored_key_count),
                ("max_key_count", self.max_key_count),
                ("max_key_per_request", self.max_key_per_request),
                ("max_key_size", self.max_key_size),
                ("min_key_size", self.min_key_size),
                ("max_SAE_ID_count", self.max_sae_id_count),
                ("status_extension", self.status_extension),
            ]
        )

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON bytes."""
        return _json.canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, obj: _json.JsonValue) -> Status:
        """Parse a decoded JSON value.

        Raises:
            ParseError: not a Status per Table 9 (also inconsistent bounds).
        """
        r = _json.ObjectReader(obj, "")
        source_kme_id = r.string("source_KME_ID")
        target_kme_id = r.string("target_KME_ID")
        master_sae_id = r.string("master_SAE_ID")
        slave_sae_id = r.string("slave_SAE_ID")
        key_size = r.required_integer("key_size")
        stored_key_count = r.required_integer("stored_key_count")
        max_key_count = r.required_integer("max_key_count")
        max_key_per_request = r.required_integer("max_key_per_request")
        max_key_size = r.required_integer("max_key_size")
        min_key_size = r.required_integer("min_key_size")
        max_sae_id_count = r.required_integer("max_SAE_ID_count")
        extension = r.optional_object("status_extension")
        r.finish()
        try:
            return cls(
                source_kme_id=source_kme_id,
                target_kme_id=target_kme_id,
                master_sae_id=master_sae_id,
                slave_sae_id=slave_sae_id,
                key_size=key_size,
                stored_key_count=stored_key_count,
                max_key_count=max_key_count,
                max_key_per_request=max_key_per_request,
                max_key_size=max_key_size,
                min_key_size=min_key_size,
                max_sae_id_count=max_sae_id_count,
                status_extension=extension,
            )
        except LocalProtocolError as exc:
            _json.fail(str(exc))

    @classmethod
    def from_json(cls, data: bytes | str, *, max_bytes: int = STATUS_MAX_BYTES) -> Status:
        """Parse Status JSON bytes strictly.

        Raises:
            ParseError: not a Status per Table 9, or over `max_bytes`.
        """
        return cls.from_dict(_json.load_object(data, max_bytes=max_bytes))
