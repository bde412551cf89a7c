"""TLS contexts of a KME: the server side (SAEs and peer KMEs) and the client side (peer KMEs).

TLS 1.2 is the minimum ETSI GS QKD 014 clause 5.1 allows; OpenSSL negotiates 1.3 when both
sides offer it. TLS 1.2 is restricted to ECDHE with AEAD ciphers (forward secrecy). Client
certificates are required and must chain to the lab CA: a missing, expired or foreign
certificate fails the handshake before any HTTP is read. As a client, a KME also confirms that
its peer's certificate names the expected KME ID, inside the handshake, so not even a key ID is
sent to another lab KME that answers on the peer's address.
"""

from __future__ import annotations

import ssl
from typing import ClassVar

from qkdlink.errors import AuthenticationError, ConfigurationError
from qkdlink.kme._config import TlsConfig
from qkdlink.pki import IdentityKind, identity_from_peercert

__all__ = ["client_ssl_context", "server_ssl_context"]

# RFC 7525 recommendation: ECDHE key exchange, AEAD ciphers only (applies to TLS 1.2; TLS 1.3
# suites are all AEAD).
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def _load(context: ssl.SSLContext, tls: TlsConfig) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_TLS12_CIPHERS)
    try:
        context.load_cert_chain(tls.cert, tls.key)
        context.load_verify_locations(cafile=tls.ca)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"cannot load TLS files {tls.cert}, {tls.ca}: {exc}") from exc
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """The KME's server context: mutual TLS with client certificates from the lab CA.

    Raises:
        ConfigurationError: the certificate, key or CA file cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # No TLS 1.2 renegotiation (TLS 1.3 has none): a connection keeps the client certificate
    # of its handshake, which the HTTP layer reads once per connection.
    context.options |= ssl.OP_NO_RENEGOTIATION
    return _load(context, tls)


class _PeerKmeCheckingSSLObject(ssl.SSLObject):
    """Completes the handshake, then requires the verified certificate to name the peer KME.

    The chain and host name checks alone accept any lab KME on the peer's address; failing the
    handshake here fails the connection before aiohttp writes a request (the same check ETSI GS
    QKD 014 clause 5.1 asks of SAEs).
    """

    expected_kme_id: ClassVar[str]

    def do_handshake(self) -> None:
        super().do_handshake()  # raises SSLWantReadError etc. until the handshake is done
        try:
            identity = identity_from_peercert(self.getpeercert())
        except AuthenticationError:
            raise ssl.SSLCertVerificationError("peer KME certificate has no identity") from None
        if identity.kind is not IdentityKind.KME or identity.id != self.expected_kme_id:
            raise ssl.SSLCertVerificationError("peer KME presented another identity")


def client_ssl_context(tls: TlsConfig, peer_kme_id: str) -> ssl.SSLContext:
    """The KME's client context for one peer: verifies the peer's certificate chain, host name
    and KME ID (`peer_kme_id`), presents this KME's certificate.

    Raises:
        ConfigurationError: the certificate, key or CA file cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = True
    # SSLContext.sslobject_class is the documented stdlib hook for the TLS objects asyncio
    # creates (https://docs.python.org/3/library/ssl.html#ssl.SSLContext.sslobject_class).
    context.sslobject_class = type(
        "PeerKmeCheckingSSLObject",
        (_PeerKmeCheckingSSLObject,),
        {"expected_kme_id": peer_kme_id},
    )
    return _load(context, tls)
