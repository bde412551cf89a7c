"""Lab CA: certificate contents, file permissions, and that the certificates work in TLS."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qkdlink.errors import ConfigurationError
from qkdlink.pki import LabCA


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.mark.parametrize("key_type", ["p256", "ed25519"])
def test_sae_cert_has_cn_and_uri_san(tmp_path: Path, key_type: str) -> None:
    ca = LabCA.create(tmp_path, key_type=key_type)  # type: ignore[arg-type]
    paths = ca.issue_sae_cert("SAE_hospital-a", tmp_path / "sae", key_type=key_type)  # type: ignore[arg-type]
    cert = _load(paths.cert)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "SAE_hospital-a"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:qkdlink:sae:SAE_hospital-a"
    ]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.issuer == _load(ca.cert_path).subject


def test_kme_cert_has_ip_and_dns_sans_and_both_usages(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    paths = ca.issue_kme_cert("KME_a", tmp_path / "kme", hosts=("127.0.0.1", "localhost"))
    cert = _load(paths.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:qkdlink:kme:KME_a"]
    eku = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    kme = ca.issue_kme_cert("KME_a", tmp_path)
    sae = ca.issue_sae_cert("SAE_a", tmp_path)
    for key in (ca.key_path, kme.key, sae.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_existing_key_file_is_tightened_and_symlinks_refused(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    loose = tmp_path / "out" / "SAE_a-key.pem"
    loose.parent.mkdir()
    loose.write_bytes(b"old")
    loose.chmod(0o644)
    ca.issue_sae_cert("SAE_a", tmp_path / "out")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
    # A link planted at the key's path must not receive the key (it could point anywhere).
    public = tmp_path / "public.txt"
    public.write_bytes(b"")
    public.chmod(0o644)
    (tmp_path / "out" / "SAE_b-key.pem").symlink_to(public)
    with pytest.raises(ConfigurationError):
        ca.issue_sae_cert("SAE_b", tmp_path / "out")
    assert public.read_bytes() == b""


def test_expired_validity_can_be_set(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    paths = ca.issue_sae_cert(
        "SAE_old", tmp_path, not_valid_before=past, not_valid_after=past + datetime.timedelta(1)
    )
    assert _load(paths.cert).not_valid_after_utc < datetime.datetime.now(datetime.UTC)


def test_load_round_trip_and_bad_ids(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    again = LabCA.load(ca.cert_path, ca.key_path)
    paths = again.issue_sae_cert("SAE_b", tmp_path)
    assert _load(paths.cert).issuer == _load(ca.cert_path).subject
    with pytest.raises(ConfigurationError):
        ca.issue_sae_cert("bad id/with slash", tmp_path)
    with pytest.raises(ConfigurationError):
        LabCA.load(tmp_path / "missing.pem", ca.key_path)


async def test_certificates_authenticate_mutual_tls(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    kme = ca.issue_kme_cert("KME_a", tmp_path)
    sae = ca.issue_sae_cert("SAE_a", tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(kme.cert, kme.key)
    server_ctx.load_verify_locations(ca.cert_path)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    seen: list[object] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peercert"))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=str(ca.cert_path))
    client_ctx.load_cert_chain(sae.cert, sae.key)
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        await asyncio.sleep(0.05)
        writer.close()
    peercert = seen[0]
    assert isinstance(peercert, dict)
    assert ("URI", "urn:qkdlink:sae:SAE_a") in peercert["subjectAltName"]


def test_only_the_ca_may_sign_certificates(tmp_path: Path) -> None:
    ca = LabCA.create(tmp_path)
    leaf = _load(ca.issue_sae_cert("SAE_a", tmp_path).cert)
    for cert, is_ca in ((_load(ca.cert_path), True), (leaf, False)):
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical
        assert usage.value.digital_signature
        assert usage.value.key_cert_sign is is_ca
        assert usage.value.crl_sign is is_ca
        assert not usage.value.key_encipherment
