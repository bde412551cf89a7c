"""The public surface of the KME, PKI and lab packages (changes here are API changes)."""

from __future__ import annotations

import qkdlink.kme
import qkdlink.lab
import qkdlink.pki


def test_kme_exports() -> None:
    assert sorted(qkdlink.kme.__all__) == [
        "BB84_PLUGIN",
        "DeliveredKeys",
        "KeySourceConfig",
        "KmeConfig",
        "KmeServer",
        "LimitsConfig",
        "ListenConfig",
        "PeerConfig",
        "TlsConfig",
        "config_from_mapping",
        "load_config",
        "make_key_source",
        "own_partition",
    ]


def test_pki_exports() -> None:
    assert sorted(qkdlink.pki.__all__) == [
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


def test_lab_exports() -> None:
    assert sorted(qkdlink.lab.__all__) == [
        "DEFAULT_NODES",
        "Lab",
        "LabNode",
        "LabSpec",
        "create_lab",
        "load_lab",
        "run_lab",
    ]
    for module in (qkdlink.kme, qkdlink.pki, qkdlink.lab):
        for name in module.__all__:
            assert getattr(module, name) is not None
