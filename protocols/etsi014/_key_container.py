"""Key container data format (ETSI GS QKD 014 clause 6.3, Table 11): the keys a KME delivers.

Key material is held as bytes, never shown in a repr, and compared in constant time.
"""

from __future__ import annotations

import binascii
import hmac
import uuid
from dataclasses import dataclass, field

from protocols.errors import LocalProtocolError
from protocols.etsi014 import _json
from protocols.etsi014._json import JsonObject

__all__ = ["KEY_CONTAINER_MAX_BYTES", "Key", "KeyContainer"]

# A 1024-key batch of 8192-bit keys is ~1.5 MiB of base64; 16 MiB leaves room for any sane KME.
KEY_CONTAINER_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True, eq=False)
class Key:
    """One item of "keys": a key ID and its key material. The repr never shows the material."""

    key_id: uuid.UUID
    """ID of the key ("key_ID", UUID format)."""
    key: bytes = field(repr=False)
    """Key data ("key", base64 on the wire). Secret: never log it."""
    key_id_extension: JsonObject | None = None
    """(Option) for future use ("key_ID_extension")."""
    key_extension: JsonObject | None = None
    """(Option) for future use ("key_extension")."""

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, uuid.UUID):
            raise LocalProtocolError("Key.key_id must be a uuid.UUID")
        if not isinstance(self.key, bytes) or not self.key:
            raise LocalProtocolError("Key.key must be non-empty bytes")
        for name in ("key_id_extension", "key_extension"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise LocalProtocolError(f"Key.{name} must be an object")

    @property
    def size(self) -> int:
        """The key size in bits."""
        return 8 * len(self.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        # Constant-time on the secret part (qkdlink rule: compare secrets with compare_digest).
        same_key = hmac.compare_digest(self.key, other.key)
        return (
            same_key
            and self.key_id == other.key_id
            and self.key_id_extension == other.key_id_extension
            and self.key_extension == other.key_extension
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> JsonObject:
        """The JSON object of one Table 11 item (contains the key material)."""
        if self.key_id_extension is None and self.key_extension is None:
            return {"key_ID": _json.format_uuid(self.key_id), "key": _json.encode_base64(self.key)}
        return _json.optional_members(
            [
                ("key_ID", _json.format_uuid(self.key_id)),
                ("key_ID_extension", self.key_id_extension),
                ("key", _json.encode_base64(self.key)),
                ("key_extension", self.key_extension),
            ]
        )


def _parse_key(item: _json.JsonValue, index: int) -> Key:
    """One item of "keys" (Table 11)."""
    if type(item) is dict and len(item) == 2:
        # Fast path for the common item {"key_ID": ..., "key": ...}: the same checks without
        # an ObjectReader; any failure is re-diagnosed by the full path for its exact detail.
        key_id, material = item.get("key_ID"), item.get("key")
        if type(key_id) is str and type(material) is str and _json.is_uuid_text(key_id):
            try:
                data = binascii.a2b_base64(material, strict_mode=True)
            except ValueError:
                data = b""
            if data:
                return Key(_json.uuid_of_text(key_id), data)
    path = f"keys[{index}]"
    ir = _json.ObjectReader(item, path)
    key_id_value = _json.parse_uuid(ir.string("key_ID"), f"{path}.key_ID")
    id_extension = ir.optional_object("key_ID_extension")
    material_value = _json.decode_base64(ir.string("key"), f"{path}.key")
    key_extension = ir.optional_object("key_extension")
    ir.finish()
    return _key(key_id_value, material_value, id_extension, key_extension, path)


def _key(
    key_id: uuid.UUID,
    material: bytes,
    id_extension: JsonObject | None,
    key_extension: JsonObject | None,
    path: str,
) -> Key:
    if not material:
        _json.fail("empty key", f"{path}.key")
    return Key(key_id, material, id_extension, key_extension)


@dataclass(frozen=True, slots=True)
class KeyContainer:
    """Table 11: one or more keys with distinct IDs.

    The table names the array "Keys" but its example (and every implementation) uses "keys";
    this model uses "keys" (see the x-spec-note of the OpenAPI file).
    """

    keys: tuple[Key, ...]
    """The delivered keys ("keys")."""
    key_container_extension: JsonObject | None = None
    """(Option) for future use ("key_container_extension")."""

    def __post_init__(self) -> None:
        if not isinstance(self.keys, tuple) or not self.keys:
            raise LocalProtocolError("KeyContainer.keys must be a non-empty tuple")
        if not all(isinstance(k, Key) for k in self.keys):
            raise LocalProtocolError("KeyContainer.keys items must be Key")
        if len({k.key_id.int for k in self.keys}) != len(self.keys):
            raise LocalProtocolError("KeyContainer.keys must not repeat a key ID")
        ext = self.key_container_extension
        if ext is not None and not isinstance(ext, dict):
            raise LocalProtocolError("KeyContainer.key_container_extension must be an object")

    @property
    def key_ids(self) -> tuple[uuid.UUID, ...]:
        """The key IDs, in container order."""
        return tuple(k.key_id for k in self.keys)

    def to_dict(self) -> JsonObject:
        """The JSON object of Table 11 (contains the key material)."""
        obj: JsonObject = {"keys": [k.to_dict() for k in self.keys]}
        if self.key_container_extension is not None:
            obj["key_container_extension"] = self.key_container_extension
        return obj

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON bytes (the 200 body of enc_keys/dec_keys)."""
        return _json.canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, obj: _json.JsonValue) -> KeyContainer:
        """Parse a decoded JSON value.

        Raises:
            ParseError: not a Key container per Table 11 (also empty, a key ID repeated, a key
                not base64 or empty).
        """
        r = _json.ObjectReader(obj, "")
        items = r.array("keys", required=True) or []
        keys: list[Key] = []
        seen: set[int] = set()
        for index, item in enumerate(items):
            key = _parse_key(item, index)
            if key.key_id.int in seen:
                _json.fail("duplicate key ID", f"keys[{index}].key_ID")
            seen.add(key.key_id.int)
            keys.append(key)
        extension = r.optional_object("key_container_extension")
        r.finish()
        if not keys:
            _json.fail("at least one key is required", "keys")
        return cls(tuple(keys), extension)

    @classmethod
    def from_json(
        cls, data: bytes | str, *, max_bytes: int = KEY_CONTAINER_MAX_BYTES
    ) -> KeyContainer:
        """Parse Key container JSON bytes strictly.

        Raises:
            ParseError: not a Key container per Table 11, or over `max_bytes`.
        """
        return cls.from_dict(_json.load_object(data, max_bytes=max_bytes))
