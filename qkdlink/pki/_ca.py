"""A lab certificate authority: one CA issuing KME server/client and SAE client certificates.

Keys are EC P-256 (the default; every TLS 1.2/1.3 stack accepts it) or Ed25519; certificates are
X.509 v3 built with `cryptography.x509` (RFC 5280 profile: basicConstraints, keyUsage,
extendedKeyUsage, subject/authority key identifiers). Private keys are written unencrypted
with file mode 0600: a lab convenience, stated in docs/kme.md; production KMEs use their own PKI.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qkdlink.errors import ConfigurationError
from qkdlink.pki._identity import IdentityKind, identity_uri, validate_id

__all__ = ["CertPaths", "KeyType", "LabCA"]

KeyType = Literal["p256", "ed25519"]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_DEFAULT_DAYS = 365


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where a certificate and its private key were written (PEM)."""

    cert: Path
    key: Path


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigurationError(f"unknown key type {key_type!r}")


def _hash_for(key: PrivateKey) -> hashes.SHA256 | None:
    # Ed25519 signs without a separate digest (RFC 8410); ECDSA uses SHA-256.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _key_usage(*, certificate_authority: bool) -> x509.KeyUsage:
    """RFC 5280 section 4.2.1.3: every certificate signs (TLS); only the CA signs certificates."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_authority,
        crl_sign=certificate_authority,
        encipher_only=False,
        decipher_only=False,
    )


def write_private_key(key: PrivateKey, path: Path) -> None:
    """Write a private key as PKCS#8 PEM with mode 0600 (never readable by group or others).

    Raises:
        ConfigurationError: the file cannot be written, or `path` is a symbolic link (which
            could point the key somewhere others can read it).
    """
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot write private key {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        # Before the first byte: O_CREAT's mode does not apply to a file that already existed.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


class LabCA:
    """A certificate authority for one lab, loaded from or written to PEM files."""

    def __init__(
        self, cert: x509.Certificate, key: PrivateKey, cert_path: Path, key_path: Path
    ) -> None:
        self._cert = cert
        self._key = key
        self.cert_path = cert_path
        self.key_path = key_path

    def __repr__(self) -> str:
        return f"LabCA(cert_path={str(self.cert_path)!r})"

    @classmethod
    def create(
        cls,
        directory: Path | str,
        *,
        name: str = "qkdlink lab CA",
        key_type: KeyType = "p256",
        valid_days: int = _DEFAULT_DAYS,
    ) -> LabCA:
        """Create a self-signed CA and write `ca.pem` and `ca-key.pem` (0600) in `directory`."""
        directory = Path(directory).absolute()
        key = _new_key(key_type)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(certificate_authority=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, _hash_for(key))
        )
        cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
        _write_cert(cert, cert_path)
        write_private_key(key, key_path)
        return cls(cert, key, cert_path, key_path)

    @classmethod
    def load(cls, cert_path: Path | str, key_path: Path | str) -> LabCA:
        """Load a CA written by `create`.

        Raises:
            ConfigurationError: the files are missing or are not a CA certificate and its key.
        """
        cert_path, key_path = Path(cert_path).absolute(), Path(key_path).absolute()
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot load CA from {cert_path}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ConfigurationError("CA key must be EC or Ed25519")
        return cls(cert, key, cert_path, key_path)

    def issue_kme_cert(
        self,
        kme_id: str,
        directory: Path | str,
        *,
        hosts: Sequence[str] = ("127.0.0.1", "localhost"),
        key_type: KeyType = "p256",
        valid_days: int = _DEFAULT_DAYS,
    ) -> CertPaths:
        """Issue a KME certificate (server and client auth) with IP and DNS SANs for `hosts`.

        The same certificate authenticates the KME as a TLS server to SAEs and as a TLS client
        to its peer KMEs (the `/peer/v1` endpoints accept only KME identities).
        """
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        return self._issue(
            IdentityKind.KME, kme_id, names, usages, Path(directory), key_type, valid_days
        )

    def issue_sae_cert(
        self,
        sae_id: str,
        directory: Path | str,
        *,
        key_type: KeyType = "p256",
        valid_days: int = _DEFAULT_DAYS,
        not_valid_before: datetime.datetime | None = None,
        not_valid_after: datetime.datetime | None = None,
    ) -> CertPaths:
        """Issue an SAE client certificate: CN = `sae_id`, URI SAN `urn:qkdlink:sae:<sae_id>`.

        `not_valid_before`/`not_valid_after` override the validity window (tests use them to
        make expired certificates).
        """
        return self._issue(
            IdentityKind.SAE,
            sae_id,
            [],
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            Path(directory),
            key_type,
            valid_days,
            not_valid_before,
            not_valid_after,
        )

    def _issue(
        self,
        kind: IdentityKind,
        ident: str,
        extra_names: list[x509.GeneralName],
        usages: list[x509.ObjectIdentifier],
        directory: Path,
        key_type: KeyType,
        valid_days: int,
        not_valid_before: datetime.datetime | None = None,
        not_valid_after: datetime.datetime | None = None,
    ) -> CertPaths:
        validate_id(ident, f"{kind.value.upper()} ID")
        key = _new_key(key_type)
        now = datetime.datetime.now(datetime.UTC)
        start = not_valid_before or now - datetime.timedelta(minutes=5)
        end = not_valid_after or now + datetime.timedelta(days=valid_days)
        names: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(identity_uri(kind, ident)),
            *extra_names,
        ]
        public = key.public_key()
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ident)]))
            .issuer_name(self._cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(certificate_authority=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(self._key, _hash_for(self._key))
        )
        stem = directory.absolute() / ident
        paths = CertPaths(stem.with_name(f"{ident}.pem"), stem.with_name(f"{ident}-key.pem"))
        _write_cert(cert, paths.cert)
        write_private_key(key, paths.key)
        return paths
