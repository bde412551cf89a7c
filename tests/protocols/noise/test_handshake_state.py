"""HandshakeState: misuse, hostile input, wrong keys and PSKs, message limits, fuzzing."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import AuthenticationError, LocalProtocolError, RemoteProtocolError
from protocols.noise import MAX_MESSAGE_LEN, Curve448, Curve25519, HandshakeState, KeyPair

IKPSK2 = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
XXPSK3 = "Noise_XXpsk3_448_AESGCM_SHA512"
DH = Curve25519()
X448 = Curve448()
PSK = b"k" * 32
INITIATOR_STATIC = DH.generate_keypair()
RESPONDER_STATIC = DH.generate_keypair()


def ik_pair(
    psk_i: bytes = b"\x01" * 32,
    psk_r: bytes = b"\x01" * 32,
    *,
    rs: bytes | None = None,
    responder_static: KeyPair = RESPONDER_STATIC,
    prologue_r: bytes = b"p",
) -> tuple[HandshakeState, HandshakeState]:
    initiator = HandshakeState(
        IKPSK2,
        initiator=True,
        prologue=b"p",
        s=INITIATOR_STATIC,
        rs=rs or RESPONDER_STATIC.public,
        psks=[psk_i],
    )
    responder = HandshakeState(
        IKPSK2, initiator=False, prologue=prologue_r, s=responder_static, psks=[psk_r]
    )
    return initiator, responder


def test_round_trip_and_transport_both_ways() -> None:
    initiator, responder = ik_pair()
    assert responder.read_message(initiator.write_message(b"hello")) == b"hello"
    assert initiator.read_message(responder.write_message(b"world")) == b"world"
    assert initiator.is_finished
    assert responder.is_finished
    assert initiator.handshake_hash == responder.handshake_hash
    assert initiator.remote_static == RESPONDER_STATIC.public
    assert responder.remote_static == INITIATOR_STATIC.public
    i, r = initiator.transport(), responder.transport()
    assert r.read_message(i.write_message(b"a")) == b"a"
    assert i.read_message(r.write_message(b"b")) == b"b"


def test_xx_with_psk3_over_448_aesgcm_sha512() -> None:
    initiator = HandshakeState(XXPSK3, initiator=True, s=X448.generate_keypair(), psks=[PSK])
    responder = HandshakeState(XXPSK3, initiator=False, s=X448.generate_keypair(), psks=[PSK])
    responder.read_message(initiator.write_message())
    initiator.read_message(responder.write_message())
    assert responder.read_message(initiator.write_message(b"last")) == b"last"
    assert initiator.handshake_hash == responder.handshake_hash
    assert len(initiator.handshake_hash) == 64


@pytest.mark.parametrize("index", [0, 10, 40, 70, 95])
def test_a_flipped_bit_fails_authentication(index: int) -> None:
    initiator, responder = ik_pair()
    message = bytearray(initiator.write_message(b"x"))
    message[index] ^= 0x01
    with pytest.raises(AuthenticationError):
        responder.read_message(bytes(message))
    with pytest.raises(LocalProtocolError):  # a failed handshake is dead (section 5)
        responder.write_message()


def test_a_tampered_response_fails_authentication() -> None:
    initiator, responder = ik_pair()
    responder.read_message(initiator.write_message())
    response = bytearray(responder.write_message())
    response[-1] ^= 0x80
    with pytest.raises(AuthenticationError):
        initiator.read_message(bytes(response))


@pytest.mark.parametrize("length", [0, 1, 31, 32, 40, 80, 95])
def test_a_truncated_message_is_a_remote_error(length: int) -> None:
    initiator, responder = ik_pair()
    message = initiator.write_message()  # 32 + 48 + 16 = 96 bytes
    assert len(message) == 96
    with pytest.raises(RemoteProtocolError):
        responder.read_message(message[:length])


def test_wrong_psk_fails_authentication_at_the_initiator() -> None:
    initiator, responder = ik_pair(psk_r=b"\x02" * 32)
    responder.read_message(initiator.write_message())
    with pytest.raises(AuthenticationError):
        initiator.read_message(responder.write_message())


def test_wrong_responder_static_fails_authentication() -> None:
    initiator, responder = ik_pair(responder_static=DH.generate_keypair())
    with pytest.raises(AuthenticationError):
        responder.read_message(initiator.write_message())


def test_different_prologues_fail_authentication() -> None:
    initiator, responder = ik_pair(prologue_r=b"q")
    with pytest.raises(AuthenticationError):
        responder.read_message(initiator.write_message())


def test_a_low_order_ephemeral_is_a_remote_error() -> None:
    _, responder = ik_pair()
    with pytest.raises(RemoteProtocolError):
        responder.read_message(bytes(96))


def test_turns_are_enforced() -> None:
    initiator, responder = ik_pair()
    with pytest.raises(LocalProtocolError):
        responder.write_message()
    with pytest.raises(LocalProtocolError):
        initiator.read_message(b"")
    message = initiator.write_message()
    with pytest.raises(LocalProtocolError):
        initiator.write_message()
    responder.read_message(message)
    initiator.read_message(responder.write_message())
    with pytest.raises(LocalProtocolError):
        initiator.write_message()


def test_results_before_the_end_are_refused() -> None:
    initiator, _ = ik_pair()
    with pytest.raises(LocalProtocolError):
        initiator.transport()
    with pytest.raises(LocalProtocolError):
        _ = initiator.handshake_hash


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"s": None, "rs": RESPONDER_STATIC.public, "psks": [bytes(32)]}, "needs local static"),
        ({"s": INITIATOR_STATIC, "rs": None, "psks": [bytes(32)]}, "needs remote static"),
        ({"s": INITIATOR_STATIC, "rs": RESPONDER_STATIC.public, "psks": []}, "needs 1 PSK"),
        ({"s": INITIATOR_STATIC, "rs": RESPONDER_STATIC.public, "psks": [bytes(16)]}, "32 bytes"),
        ({"s": INITIATOR_STATIC, "rs": b"short", "psks": [bytes(32)]}, "32 bytes"),
    ],
)
def test_missing_or_wrong_keys_are_local_errors(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(LocalProtocolError, match=problem):
        HandshakeState(IKPSK2, initiator=True, **kwargs)  # type: ignore[arg-type]


def test_superfluous_keys_are_refused() -> None:
    with pytest.raises(LocalProtocolError, match="takes no"):
        HandshakeState("Noise_NN_25519_AESGCM_SHA256", initiator=True, s=INITIATOR_STATIC)


def test_message_size_limit_is_checked_before_any_state_change() -> None:
    initiator, responder = ik_pair()
    overhead = 32 + 48 + 16
    with pytest.raises(LocalProtocolError, match="65535"):
        initiator.write_message(bytes(MAX_MESSAGE_LEN - overhead + 1))
    message = initiator.write_message(bytes(MAX_MESSAGE_LEN - overhead))
    assert len(message) == MAX_MESSAGE_LEN
    assert len(responder.read_message(message)) == MAX_MESSAGE_LEN - overhead
    with pytest.raises(RemoteProtocolError):
        ik_pair()[1].read_message(bytes(MAX_MESSAGE_LEN + 1))


def test_transport_limits_and_one_way_direction() -> None:
    responder_static = DH.generate_keypair()
    initiator = HandshakeState(
        "Noise_N_25519_ChaChaPoly_SHA256", initiator=True, rs=responder_static.public
    )
    responder = HandshakeState(
        "Noise_N_25519_ChaChaPoly_SHA256", initiator=False, s=responder_static
    )
    responder.read_message(initiator.write_message())
    with pytest.raises(LocalProtocolError):
        responder.transport().write_message(b"no")
    with pytest.raises(LocalProtocolError):
        initiator.transport().read_message(b"no")
    with pytest.raises(LocalProtocolError):
        initiator.transport().write_message(bytes(MAX_MESSAGE_LEN - 15))
    with pytest.raises(RemoteProtocolError):
        responder.transport().read_message(bytes(MAX_MESSAGE_LEN + 1))


def test_the_ephemeral_test_hook_refuses_a_late_call() -> None:
    initiator, _ = ik_pair()
    initiator.write_message()
    with pytest.raises(LocalProtocolError):
        initiator.set_ephemeral_for_testing(os.urandom(32))


def test_repr_shows_no_key_material() -> None:
    initiator, responder = ik_pair(psk_i=b"\xaa" * 32, psk_r=b"\xaa" * 32)
    responder.read_message(initiator.write_message())
    initiator.read_message(responder.write_message())
    texts = [repr(initiator), repr(initiator.transport()), repr(INITIATOR_STATIC)]
    for secret in (b"\xaa" * 32, INITIATOR_STATIC.private_bytes()):
        assert all(secret.hex() not in t and repr(secret) not in t for t in texts)


def _reachable_secrets(state: HandshakeState) -> list[object]:
    values = [getattr(state, name) for name in HandshakeState.__slots__]
    return [v for v in values if isinstance(v, KeyPair)] + [
        item for v in values if isinstance(v, list) for item in v
    ]


def test_a_failed_handshake_drops_its_psk_and_ephemeral() -> None:
    # Section 5.3: a HandshakeState that failed is deleted; ours keeps no PSK or ephemeral.
    initiator, responder = ik_pair(psk_i=b"\xaa" * 32, psk_r=b"\xbb" * 32)
    responder.read_message(initiator.write_message())
    assert initiator._e is not None
    assert initiator._psks == [b"\xaa" * 32]
    with pytest.raises(AuthenticationError):
        initiator.read_message(responder.write_message())
    assert _reachable_secrets(initiator) == [INITIATOR_STATIC]  # the static key is the caller's
    _, fresh = ik_pair(psk_r=b"\xcc" * 32)
    with pytest.raises(RemoteProtocolError):
        fresh.read_message(b"short")
    assert _reachable_secrets(fresh) == [RESPONDER_STATIC]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_first_message_only_raises_remote_errors(data: bytes) -> None:
    _, responder = ik_pair()
    with contextlib.suppress(RemoteProtocolError, AuthenticationError):
        responder.read_message(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_xx_response_only_raises_remote_errors(data: bytes) -> None:
    initiator = HandshakeState(XXPSK3, initiator=True, s=X448.generate_keypair(), psks=[PSK])
    initiator.write_message()
    with contextlib.suppress(RemoteProtocolError, AuthenticationError):
        initiator.read_message(data)
