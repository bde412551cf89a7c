"""The request rules of ETSI GS QKD 014 clauses 5 and 6 that depend on the KME's Status.

A KME parses a request (`KeyRequest.from_json`/`from_query`), then calls `validate_key_request`
with the Status for the (master, slave) pair; the result has every default resolved.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from protocols.etsi014._error_body import ErrorBody
from protocols.etsi014._errors import (
    MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    MSG_NUMBER_OUT_OF_RANGE,
    MSG_SIZE_NOT_MULTIPLE_OF_8,
    MSG_SIZE_OUT_OF_RANGE,
    MSG_TOO_MANY_SAE_IDS,
    RejectedRequestError,
)
from protocols.etsi014._json import JsonObject, echo_name
from protocols.etsi014._key_ids import KeyIds
from protocols.etsi014._key_request import KeyRequest
from protocols.etsi014._status import Status

__all__ = [
    "MSG_TOO_MANY_KEY_IDS",
    "ValidatedKeyRequest",
    "validate_key_ids",
    "validate_key_request",
]

# Our wording: a dec_keys request may not ask for more keys than one enc_keys could deliver.
MSG_TOO_MANY_KEY_IDS = "key_IDs shall have at most max_key_per_request entries"
_MSG_SAE_ID_REPEATED = "additional_slave_SAE_IDs shall not name the master or the slave SAE"


@dataclass(frozen=True, slots=True)
class ValidatedKeyRequest:
    """A Key request accepted under a Status, with the spec's defaults resolved."""

    number: int
    """Number of keys to deliver (1..max_key_per_request)."""
    size: int
    """Size of each key in bits (a multiple of 8 in [min_key_size, max_key_size])."""
    additional_slave_sae_ids: tuple[str, ...] = ()
    """Further slave SAEs entitled to the keys (at most max_SAE_ID_count)."""
    extension_mandatory: tuple[JsonObject, ...] = field(default=())
    """Mandatory extensions, all of whose names the KME declared supported."""
    extension_optional: tuple[JsonObject, ...] = field(default=())
    """Optional extensions (a KME may ignore them, clause 6.2)."""


def _reject(message: str, **details: str) -> RejectedRequestError:
    return RejectedRequestError(ErrorBody(message, (dict(details),) if details else ()))


def validate_key_request(
    request: KeyRequest,
    status: Status,
    *,
    supported_extensions: Collection[str] = (),
) -> ValidatedKeyRequest:
    """Apply clause 6.2's rules: defaults (number 1, size = key_size), size a multiple of 8 and
    within [min_key_size, max_key_size], number within [1, max_key_per_request],
    additional_slave_SAE_IDs at most max_SAE_ID_count, every extension_mandatory name supported.

    Args:
        request: the parsed Key request.
        status: the Status of this KME for the (master, slave) pair.
        supported_extensions: names of extension_mandatory parameters this KME handles.

    Raises:
        RejectedRequestError: with the Error body to answer (400), spec wording where it has any.
    """
    size = status.key_size if request.size is None else request.size
    # Clause 6.2: a KME that supports only multiples of 8 answers with exactly this message.
    if size % 8:
        raise _reject(MSG_SIZE_NOT_MULTIPLE_OF_8, size=str(size))
    if not status.min_key_size <= size <= status.max_key_size:
        raise _reject(
            MSG_SIZE_OUT_OF_RANGE,
            size=str(size),
            min_key_size=str(status.min_key_size),
            max_key_size=str(status.max_key_size),
        )
    if not 1 <= request.number <= status.max_key_per_request:
        raise _reject(
            MSG_NUMBER_OUT_OF_RANGE,
            number=str(request.number),
            max_key_per_request=str(status.max_key_per_request),
        )
    extra = request.additional_slave_sae_ids
    if len(extra) > status.max_sae_id_count:
        raise _reject(
            MSG_TOO_MANY_SAE_IDS,
            count=str(len(extra)),
            max_SAE_ID_count=str(status.max_sae_id_count),
        )
    if status.slave_sae_id in extra or status.master_sae_id in extra:
        raise _reject(_MSG_SAE_ID_REPEATED)
    supported = frozenset(supported_extensions)
    unsupported = [
        name for ext in request.extension_mandatory for name in ext if name not in supported
    ]
    if unsupported:
        # Clause 6.2 message; the detail mirrors the clause 6.5 example
        # {"extension_mandatory_unsupported": "abc_route_type is not supported"}. The names are
        # the peer's: at most 16 of them, each bounded and made UTF-8-safe before it is echoed.
        raise RejectedRequestError(
            ErrorBody(
                MSG_EXTENSION_MANDATORY_UNSUPPORTED,
                tuple(
                    {"extension_mandatory_unsupported": f"{echo_name(name)} is not supported"}
                    for name in unsupported[:16]
                ),
            )
        )
    return ValidatedKeyRequest(
        number=request.number,
        size=size,
        additional_slave_sae_ids=extra,
        extension_mandatory=request.extension_mandatory,
        extension_optional=request.extension_optional,
    )


def validate_key_ids(key_ids: KeyIds, status: Status) -> KeyIds:
    """Bound a dec_keys request by max_key_per_request (the same bound as enc_keys).

    Raises:
        RejectedRequestError: more key IDs than max_key_per_request.
    """
    if len(key_ids.key_ids) > status.max_key_per_request:
        raise _reject(
            MSG_TOO_MANY_KEY_IDS,
            count=str(len(key_ids.key_ids)),
            max_key_per_request=str(status.max_key_per_request),
        )
    return key_ids
