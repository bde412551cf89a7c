"""Reading SAE/KME identities from verified peer certificates (URI SAN authoritative, CN agrees)."""

from __future__ import annotations

import pytest

from qkdlink.errors import AuthenticationError
from qkdlink.pki import Identity, IdentityKind, identity_from_peercert


def _cert(cn: str, *uris: str) -> dict[str, object]:
    return {
        "subject": ((("commonName", cn),),),
        "subjectAltName": tuple(("URI", u) for u in uris),
    }


def test_sae_and_kme_identities() -> None:
    assert identity_from_peercert(_cert("SAE_a", "urn:qkdlink:sae:SAE_a")) == Identity(
        IdentityKind.SAE, "SAE_a"
    )
    assert identity_from_peercert(_cert("KME_a", "urn:qkdlink:kme:KME_a")) == Identity(
        IdentityKind.KME, "KME_a"
    )


@pytest.mark.parametrize(
    "peercert",
    [
        None,
        {},
        _cert("SAE_a"),
        _cert("SAE_b", "urn:qkdlink:sae:SAE_a"),
        _cert("SAE_a", "urn:qkdlink:sae:SAE_a", "urn:qkdlink:sae:SAE_b"),
        _cert("SAE_a", "urn:qkdlink:admin:SAE_a"),
        _cert("SAE a", "urn:qkdlink:sae:SAE a"),
        {"subjectAltName": (("URI", "urn:qkdlink:sae:SAE_a"),)},
    ],
)
def test_rejects_missing_ambiguous_or_mismatched(peercert: dict[str, object] | None) -> None:
    with pytest.raises(AuthenticationError):
        identity_from_peercert(peercert)
