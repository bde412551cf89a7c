"""Lab PKI for peer-link tests: one CA per test, a KME certificate per KME ID on demand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qkdlink.kme._config import TlsConfig
from qkdlink.pki import LabCA


def lab_tls(directory: Path) -> Callable[[str], TlsConfig]:
    """A lab CA in `directory`; the returned function issues a KME's TLS files from it."""
    ca = LabCA.create(directory)

    def tls_for(kme_id: str) -> TlsConfig:
        paths = ca.issue_kme_cert(kme_id, directory / kme_id)
        return TlsConfig(cert=paths.cert, key=paths.key, ca=ca.cert_path)

    return tls_for
