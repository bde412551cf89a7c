"""Lab PKI: a CA, KME certificates (server and peer-client auth) and SAE client certificates."""

from qkdlink.pki._ca import CertPaths, KeyType, LabCA, write_private_key
from qkdlink.pki._identity import (
    Identity,
    IdentityKind,
    identity_from_peercert,
    identity_uri,
    validate_id,
)

__all__ = [
    "CertPaths",
    "Identity",
    "IdentityKind",
    "KeyType",
    "LabCA",
    "identity_from_peercert",
    "identity_uri",
    "validate_id",
    "write_private_key",
]
