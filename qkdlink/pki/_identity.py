"""Names in lab certificates: how an SAE or KME ID is written into, and read from, a certificate.

The URI subject alternative name (`urn:qkdlink:sae:<ID>` or `urn:qkdlink:kme:<ID>`) is
authoritative: it is typed (it says whether the holder is an SAE or a KME) and SANs are what
RFC 6125 tells verifiers to use. The subject CN carries the same ID for humans and for tools
that only show the CN; a certificate whose CN disagrees with its URI SAN is rejected.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qkdlink.errors import AuthenticationError, ConfigurationError

URN_PREFIX = "urn:qkdlink:"

__all__ = ["Identity", "IdentityKind", "identity_from_peercert", "identity_uri", "validate_id"]


class IdentityKind(enum.Enum):
    """What a certificate holder is."""

    SAE = "sae"
    KME = "kme"


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated name of a TLS peer."""

    kind: IdentityKind
    """SAE (an application) or KME (a key manager at the other end of a link)."""
    id: str
    """The SAE ID or KME ID."""


_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


def validate_id(value: str, what: str = "ID") -> str:
    """Check an SAE/KME ID: 1-64 characters of [A-Za-z0-9_.-], so it is safe in URLs and URNs.

    Raises:
        ConfigurationError: the ID is empty, too long or has other characters.
    """
    if not 1 <= len(value) <= 64 or not set(value) <= _ALLOWED:
        raise ConfigurationError(f"{what} must be 1-64 characters of [A-Za-z0-9_.-]: {value!r}")
    return value


def identity_uri(kind: IdentityKind, ident: str) -> str:
    """The URI SAN for an identity, e.g. `urn:qkdlink:sae:SAE_hospital-a`."""
    return f"{URN_PREFIX}{kind.value}:{validate_id(ident)}"


def identity_from_peercert(peercert: Mapping[str, Any] | None) -> Identity:
    """Read the identity from `ssl.SSLObject.getpeercert()` (a chain-verified certificate).

    Exactly one `urn:qkdlink:` URI SAN must be present and the subject CN must equal its ID.

    Raises:
        AuthenticationError: no certificate, no or several identity URIs, or CN mismatch.
    """
    if not peercert:
        raise AuthenticationError("no client certificate")
    uris = [
        value
        for typ, value in peercert.get("subjectAltName", ())
        if typ == "URI" and isinstance(value, str) and value.startswith(URN_PREFIX)
    ]
    if len(uris) != 1:
        raise AuthenticationError("certificate must carry exactly one qkdlink identity URI")
    kind_text, _, ident = uris[0][len(URN_PREFIX) :].partition(":")
    try:
        kind = IdentityKind(kind_text)
        validate_id(ident)
    except (ValueError, ConfigurationError) as exc:
        raise AuthenticationError("malformed identity URI in certificate") from exc
    common_names = [
        value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "commonName"
    ]
    if common_names != [ident]:
        raise AuthenticationError("certificate CN does not match its identity URI")
    return Identity(kind, ident)
