"""The SAE side of ETSI GS QKD 014 clause 5.1: mutual TLS, and the KME ID confirmed from the
KME's certificate before any key is accepted."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, ClassVar

from qkdlink.client._config import KmeClientConfig
from qkdlink.errors import AuthenticationError, ConfigurationError

__all__ = ["KME_URI_PREFIX", "client_ssl_context", "kme_id_of_certificate"]

# The lab PKI writes the KME ID as the URI SAN `urn:qkdlink:kme:<KME ID>` (and as subject CN).
KME_URI_PREFIX = "urn:qkdlink:kme:"
# RFC 7525 section 4.2: ECDHE with AEAD ciphers for TLS 1.2 (TLS 1.3 suites are all AEAD).
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class _KmeIdCheckingSSLObject(ssl.SSLObject):
    """Completes the handshake, then confirms the KME ID from the verified certificate.

    Failing here fails the connection itself, before any HTTP request is sent: clause 5.1,
    "Unless the KME ID has been verified in this manner the SAE shall not proceed to use this
    API with the KME".
    """

    expected_kme_id: ClassVar[str]

    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError etc. until the handshake is done
        try:
            named = kme_id_of_certificate(self.getpeercert())
        except AuthenticationError as exc:
            raise ssl.SSLCertVerificationError(str(exc)) from None
        if named != self.expected_kme_id:
            raise ssl.SSLCertVerificationError(
                f"the KME certificate names KME ID {named!r}, expected {self.expected_kme_id!r}"
            )


def client_ssl_context(config: KmeClientConfig) -> ssl.SSLContext:
    """A TLS 1.2+ client context presenting the SAE certificate and verifying the KME's
    certificate chain (against `config.ca` only), host name and, when
    `config.check_kme_id_in_certificate`, the KME ID it names (`kme_id_of_certificate`).

    Raises:
        ConfigurationError: the certificate, key or CA file cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED on
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    try:
        context.load_verify_locations(cafile=config.ca)
        context.load_cert_chain(config.cert, config.key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load TLS files (cert {config.cert}, CA {config.ca}): {exc}"
        ) from exc
    if config.check_kme_id_in_certificate:
        # SSLContext.sslobject_class is the documented hook for asyncio's TLS objects.
        context.sslobject_class = type(
            "KmeIdCheckingSSLObject",
            (_KmeIdCheckingSSLObject,),
            {"expected_kme_id": config.kme_id},
        )
    return context


def kme_id_of_certificate(peercert: Mapping[str, Any] | None) -> str:
    """The KME ID a verified KME certificate names: its `urn:qkdlink:kme:` URI SAN, or its subject
    CN when it has no such URI (certificates of other PKIs).

    Raises:
        AuthenticationError: no certificate, several KME URIs, or no name at all.
    """
    if not peercert:
        raise AuthenticationError("the KME presented no certificate")
    uris = [
        value[len(KME_URI_PREFIX) :]
        for kind, value in peercert.get("subjectAltName", ())
        if kind == "URI" and isinstance(value, str) and value.startswith(KME_URI_PREFIX)
    ]
    if len(uris) > 1:
        raise AuthenticationError("the KME certificate names several KME IDs")
    if uris:
        return uris[0]
    names = [v for rdn in peercert.get("subject", ()) for k, v in rdn if k == "commonName"]
    if len(names) != 1:
        raise AuthenticationError("the KME certificate names no KME ID")
    name: str = names[0]
    return name
