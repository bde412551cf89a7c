"""The one internal error of the ETSI 014 parsers and validators, and the spec's message wording.

Every rejection carries the `ErrorBody` (clause 6.5, Table 13) the KME answers with status 400,
so the adapter that turns peer bytes into objects converts it once, without re-deciding wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocols.errors import RemoteProtocolError

if TYPE_CHECKING:
    from protocols.etsi014._error_body import ErrorBody

__all__ = [
    "MSG_BAD_REQUEST_FORMAT",
    "MSG_EXTENSION_MANDATORY_NOT_MET",
    "MSG_EXTENSION_MANDATORY_UNSUPPORTED",
    "MSG_EXTENSION_OPTIONAL_NOT_HANDLED",
    "MSG_KEYS_NOT_FOUND",
    "MSG_KEY_DATA_ACCESS_ERROR",
    "MSG_NUMBER_OUT_OF_RANGE",
    "MSG_SIZE_NOT_MULTIPLE_OF_8",
    "MSG_SIZE_OUT_OF_RANGE",
    "MSG_TOO_MANY_SAE_IDS",
    "BadRequestError",
    "ParseError",
    "RejectedRequestError",
]

# Wording given by the spec itself.
# Tables 4, 6 and 8: the meaning of a 400 response ("Bad request format.").
MSG_BAD_REQUEST_FORMAT = "bad request format"
# Clause 6.2: a KME that only supports key sizes that are multiples of 8.
MSG_SIZE_NOT_MULTIPLE_OF_8 = "size shall be a multiple of 8"
# Clause 6.2: extension_mandatory names the KME does not support.
MSG_EXTENSION_MANDATORY_UNSUPPORTED = "not all extension_mandatory parameters are supported"
# Clause 6.2: supported extension_mandatory parameters whose requirements cannot be met.
MSG_EXTENSION_MANDATORY_NOT_MET = "not all extension_mandatory request options could be met"
# Clause 6.2: a KME that chooses to refuse ignored extension_optional parameters.
MSG_EXTENSION_OPTIONAL_NOT_HANDLED = "not all extension_optional request options handled"
# Clause 6.4: dec_keys for key IDs the KME cannot return.
MSG_KEYS_NOT_FOUND = "one or more keys specified are not found on KME"
# Clause 6.5, first example of the Error data format (a server-side failure, used with 503).
MSG_KEY_DATA_ACCESS_ERROR = "key data access error"

# Wording of our own, in the same style, for the bounds clause 6.1/6.2 set through Status, where
# the spec gives none.
MSG_SIZE_OUT_OF_RANGE = "size shall be between min_key_size and max_key_size"
MSG_NUMBER_OUT_OF_RANGE = "number shall be between 1 and max_key_per_request"
MSG_TOO_MANY_SAE_IDS = "additional_slave_SAE_IDs shall have at most max_SAE_ID_count entries"


class BadRequestError(RemoteProtocolError):
    """A peer's request or response breaks ETSI GS QKD 014; `error` is the Error body to answer.

    `status` is the HTTP status code a KME answers with (always 400 for these).
    """

    status = 400

    def __init__(self, error: ErrorBody) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def message(self) -> str:
        """The Error body's message (clause 6.5)."""
        return self.error.message


class ParseError(BadRequestError):
    """Bytes, JSON or a query string do not form the data format of clause 6 (wrong JSON, unknown
    or ill-typed field, bool for an integer, bad base64, malformed UUID, duplicate key ID, body over
    the size cap). The message is always `MSG_BAD_REQUEST_FORMAT`; `details` say what was wrong.
    """


class RejectedRequestError(BadRequestError):
    """A well-formed Key request or Key IDs that the rules of clauses 5/6 refuse given a Status
    (size not a multiple of 8 or out of bounds, number out of bounds, unsupported
    extension_mandatory, too many additional slave SAE IDs)."""
