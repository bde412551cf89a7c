"""The 25519 and 448 DH functions (section 12.1-12.2): agreement, sizes, invalid keys."""

from __future__ import annotations

import pytest

from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.noise import DH_FUNCTIONS, Curve448, Curve25519, DhFunction


@pytest.mark.parametrize("dh", [Curve25519(), Curve448()], ids=lambda d: d.name)
def test_agreement_and_sizes(dh: DhFunction) -> None:
    a, b = dh.generate_keypair(), dh.generate_keypair()
    assert len(a.public) == dh.dhlen
    assert dh.dh(a, b.public) == dh.dh(b, a.public)
    assert len(dh.dh(a, b.public)) == dh.dhlen
    assert dh.keypair_from_private(a.private_bytes()).public == a.public
    assert DH_FUNCTIONS[dh.name] is not None


def test_rfc7748_x25519_test_vector() -> None:
    # RFC 7748 section 6.1 (Alice's private key and Bob's public key, shared secret K).
    alice = Curve25519().keypair_from_private(
        bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    bob_public = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert Curve25519().dh(alice, bob_public).hex() == (
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    )


@pytest.mark.parametrize("dh", [Curve25519(), Curve448()], ids=lambda d: d.name)
def test_invalid_public_keys_are_remote_errors(dh: DhFunction) -> None:
    keypair = dh.generate_keypair()
    with pytest.raises(RemoteProtocolError):
        dh.dh(keypair, bytes(dh.dhlen))  # low-order point: all-zero output refused
    with pytest.raises(RemoteProtocolError):
        dh.dh(keypair, bytes(dh.dhlen - 1))


def test_a_key_pair_of_the_other_curve_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        Curve448().dh(Curve25519().generate_keypair(), bytes(56))


def test_private_key_not_in_repr() -> None:
    keypair = Curve25519().generate_keypair()
    assert keypair.private_bytes().hex() not in repr(keypair)
