"""TLS contexts of a KME: the server side (SAEs and peer KMEs) and the client side (peer KMEs).

TLS 1.2 is the minimum ETSI GS QKD 014 clause 5.1 allows; OpenSSL negotiates 1.3 when both
sides offer it. TLS 1.2 is restricted to ECDHE with AEAD ciphers (forward secrecy). Client
certificates are required and must chain to the lab CA: a missing, expired or foreign
certificate fails the handshake before any HTTP is read.
"""

from __future__ import annotations

import ssl

from qkdlink.errors import ConfigurationError
from qkdlink.kme._config import TlsConfig

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
    return _load(context, tls)


def client_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """The KME's client context for its peers: verifies the peer's certificate and host name,
    presents this KME's certificate.

    Raises:
        ConfigurationError: the certificate, key or CA file cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = True
    return _load(context, tls)
