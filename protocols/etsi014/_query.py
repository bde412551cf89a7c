"""Strict parsing of the GET query forms of clauses 6.2 and 6.4 (`number=3&size=1024`, `key_ID=…`).

Only the parameters the spec names are accepted, each at most once unless it may repeat, and
integers are plain decimal digits; anything else is the parse error.
"""

from __future__ import annotations

import re
import urllib.parse

from protocols.etsi014 import _json

__all__ = ["QUERY_MAX_BYTES", "parse_query", "query_integer"]

# A query of a few parameters; the cap bounds the work before any parsing.
QUERY_MAX_BYTES = 8 * 1024
# At most 9 digits: values beyond this are refused as out of range by any KME anyway, and the cap
# keeps hostile digit strings from costing anything.
_DECIMAL_RE = re.compile(r"[0-9]{1,9}")


def parse_query(
    query: str, *, allowed: frozenset[str], repeatable: frozenset[str]
) -> dict[str, list[str]]:
    """Split a raw query string (without "?") into parameter values.

    Raises:
        ParseError: over the cap, not `name=value` pairs, an unknown or a repeated parameter.
    """
    if len(query.encode("utf-8", "surrogatepass")) > QUERY_MAX_BYTES:
        _json.fail(f"query is larger than {QUERY_MAX_BYTES} bytes")
    if query == "":
        return {}
    try:
        pairs = urllib.parse.parse_qsl(
            query,
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=256,
        )
    except (ValueError, UnicodeDecodeError):
        _json.fail("query is not name=value pairs")
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if name not in allowed:
            _json.fail("unknown query parameter", name)
        if name in values and name not in repeatable:
            _json.fail("query parameter given more than once", name)
        values.setdefault(name, []).append(value)
    return values


def query_integer(text: str, name: str) -> int:
    """A non-negative decimal integer given "as string data" in the URI (clause 6.2)."""
    if not _DECIMAL_RE.fullmatch(text):
        _json.fail("expected a decimal integer", name)
    return int(text)
