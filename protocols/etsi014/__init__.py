"""ETSI GS QKD 014 V1.1.1 data model: sans-IO, typed, strict (clause 6, Tables 9-13).

The five data formats are frozen, slotted dataclasses with snake-case attribute names (the JSON
names of the spec are used on the wire, e.g. `key_ID` <-> `key_id`, `max_SAE_ID_count` <->
`max_sae_id_count`):

- `Status` (Table 9), `KeyRequest` (Table 10), `KeyContainer` of `Key` (Table 11),
  `KeyIds` of `KeyIdEntry` (Table 12), `ErrorBody` (Table 13, "Error").

Each has `to_dict()` / `to_json() -> bytes` (canonical: compact UTF-8, members in table order,
absent options left out) and `from_dict()` / `from_json(data, *, max_bytes=...)`. The GET forms
have `KeyRequest.from_query("number=3&size=1024")` / `.to_query()` and
`KeyIds.from_query("key_ID=...")` / `.to_query()`.

Parsing is strict: wrong JSON, non-UTF-8, duplicate member names, NaN, numbers beyond double
range and strings with lone surrogates (I-JSON, RFC 7493), unknown or ill-typed members,
booleans or floats for integers, non-base64 keys, malformed UUIDs, duplicate key IDs and bodies
over the byte cap all raise `ParseError`, whose `error` is the Error body a KME sends
with 400 (message "bad request format", a detail object naming the member and the reason).
Nothing else escapes a parser, whatever the input.

`validate_key_request(request, status, supported_extensions=...)` applies the rules of clauses
5/6 that need the KME's Status and returns a `ValidatedKeyRequest` with defaults resolved
(`number` 1, `size` = Status `key_size`); a refusal is `RejectedRequestError` carrying the Error
body with the spec's wording (`MSG_SIZE_NOT_MULTIPLE_OF_8`, `MSG_EXTENSION_MANDATORY_UNSUPPORTED`,
...). `validate_key_ids` bounds dec_keys by `max_key_per_request`. Both error classes derive
from `BadRequestError` (`status` 400, `error`, `message`), a `protocols.errors.RemoteProtocolError`.
Building a model with bad values locally raises `protocols.errors.LocalProtocolError`.

Key material (`Key.key`) never appears in a repr and is compared with `hmac.compare_digest`.
"""

from protocols.etsi014._error_body import ERROR_MAX_BYTES, ErrorBody
from protocols.etsi014._errors import (
    MSG_BAD_REQUEST_FORMAT,
    MSG_EXTENSION_MANDATORY_NOT_MET,
    MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    MSG_EXTENSION_OPTIONAL_NOT_HANDLED,
    MSG_KEY_DATA_ACCESS_ERROR,
    MSG_KEYS_NOT_FOUND,
    MSG_NUMBER_OUT_OF_RANGE,
    MSG_SIZE_NOT_MULTIPLE_OF_8,
    MSG_SIZE_OUT_OF_RANGE,
    MSG_TOO_MANY_SAE_IDS,
    BadRequestError,
    ParseError,
    RejectedRequestError,
)
from protocols.etsi014._json import JsonObject, JsonValue
from protocols.etsi014._key_container import KEY_CONTAINER_MAX_BYTES, Key, KeyContainer
from protocols.etsi014._key_ids import KEY_IDS_MAX_BYTES, KeyIdEntry, KeyIds
from protocols.etsi014._key_request import REQUEST_MAX_BYTES, KeyRequest
from protocols.etsi014._query import QUERY_MAX_BYTES
from protocols.etsi014._status import STATUS_MAX_BYTES, Status
from protocols.etsi014._validation import (
    MSG_TOO_MANY_KEY_IDS,
    ValidatedKeyRequest,
    validate_key_ids,
    validate_key_request,
)

__all__ = [
    "ERROR_MAX_BYTES",
    "KEY_CONTAINER_MAX_BYTES",
    "KEY_IDS_MAX_BYTES",
    "MSG_BAD_REQUEST_FORMAT",
    "MSG_EXTENSION_MANDATORY_NOT_MET",
    "MSG_EXTENSION_MANDATORY_UNSUPPORTED",
    "MSG_EXTENSION_OPTIONAL_NOT_HANDLED",
    "MSG_KEYS_NOT_FOUND",
    "MSG_KEY_DATA_ACCESS_ERROR",
    "MSG_NUMBER_OUT_OF_RANGE",
    "MSG_SIZE_NOT_MULTIPLE_OF_8",
    "MSG_SIZE_OUT_OF_RANGE",
    "MSG_TOO_MANY_KEY_IDS",
    "MSG_TOO_MANY_SAE_IDS",
    "QUERY_MAX_BYTES",
    "REQUEST_MAX_BYTES",
    "STATUS_MAX_BYTES",
    "BadRequestError",
    "ErrorBody",
    "JsonObject",
    "JsonValue",
    "Key",
    "KeyContainer",
    "KeyIdEntry",
    "KeyIds",
    "KeyRequest",
    "ParseError",
    "RejectedRequestError",
    "Status",
    "ValidatedKeyRequest",
    "validate_key_ids",
    "validate_key_request",
]
