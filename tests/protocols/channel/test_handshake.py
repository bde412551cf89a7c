"""The qkdlink channel handshake: success in both modes, every failure with its typed error."""

from __future__ import annotations

import dataclasses
import math
import os
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from protocols.channel import (
    DowngradeError,
    HandshakeConfig,
    HandshakeInitiator,
    HandshakeMode,
    HandshakeReplayCache,
    HandshakeResponder,
    HandshakeResult,
    ReplayedHandshakeError,
    StaleHandshakeError,
    initial_epoch_keys,
    peek_key_id,
)
from protocols.errors import AuthenticationError, LocalProtocolError, RemoteProtocolError
from protocols.noise import HandshakeState

NOW = 1_790_000_000.25
MODES = list(HandshakeMode)


def static_pair() -> tuple[bytes, bytes]:
    key = x25519.X25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


ALICE = static_pair()
BOB = static_pair()
MALLORY = static_pair()


def configs(
    mode: HandshakeMode = HandshakeMode.QKD_X25519_MLKEM,
) -> tuple[HandshakeConfig, HandshakeConfig]:
    return (
        HandshakeConfig("hospital-a", "hospital-b", ALICE[0], BOB[1], mode),
        HandshakeConfig("hospital-b", "hospital-a", BOB[0], ALICE[1], mode),
    )


def run(
    initiator_config: HandshakeConfig,
    responder_config: HandshakeConfig,
    *,
    psk_i: bytes = b"q" * 32,
    psk_r: bytes = b"q" * 32,
    key_id: uuid.UUID | None = None,
) -> tuple[HandshakeResult, HandshakeResult]:
    key_id = key_id or uuid.uuid4()
    initiator = HandshakeInitiator(initiator_config)
    first = initiator.start(psk_i, key_id, NOW)
    assert peek_key_id(first) == key_id
    responder = HandshakeResponder(responder_config)
    second = responder.respond(first, psk_r, NOW + 0.5)
    return initiator.finish(second), responder.result


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_both_modes_agree_on_keys_and_bindings(mode: HandshakeMode) -> None:
    key_id = uuid.uuid4()
    initiator, responder = run(*configs(mode), key_id=key_id)
    assert initiator.send_key == responder.receive_key
    assert initiator.receive_key == responder.send_key
    assert initiator.send_key != initiator.receive_key
    assert initiator.handshake_hash == responder.handshake_hash
    assert len(initiator.handshake_hash) == 32
    assert initiator.key_id == responder.key_id == key_id
    assert initiator.mode is responder.mode is mode
    assert initiator.peer_static == BOB[1]
    assert responder.peer_static == ALICE[1]
    assert initiator.is_initiator
    assert not responder.is_initiator
    # The record layer's epoch 0 comes out identical at both ends.
    a = initial_epoch_keys(initiator.handshake_hash, initiator.send_key, initiator.receive_key)
    b = initial_epoch_keys(responder.handshake_hash, responder.receive_key, responder.send_key)
    assert bytes(a.chaining_key) == bytes(b.chaining_key)


def test_mlkem_changes_the_transport_keys() -> None:
    # Same PSK, statics and mode bytes aside, the hybrid keys differ from the plain ones and
    # from one run to the next (fresh ephemerals and a fresh ML-KEM secret).
    first, _ = run(*configs())
    second, _ = run(*configs())
    plain, _ = run(*configs(HandshakeMode.QKD_X25519))
    assert len({first.send_key, second.send_key, plain.send_key}) == 3


def test_message_sizes_are_fixed_by_the_mode() -> None:
    for mode, sizes in ((HandshakeMode.QKD_X25519, (127, 50)), (MODES[0], (1311, 1138))):
        initiator_config, responder_config = configs(mode)
        first = HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW)
        second = HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW)
        assert (len(first), len(second)) == sizes


def test_wrong_psk_fails_authentication_at_the_initiator() -> None:
    with pytest.raises(AuthenticationError):
        run(*configs(), psk_r=b"x" * 32)


def test_initiator_with_a_wrong_responder_static_key_fails() -> None:
    initiator_config, responder_config = configs()
    initiator_config = dataclasses.replace(initiator_config, peer_static_public_key=MALLORY[1])
    with pytest.raises(AuthenticationError):
        run(initiator_config, responder_config)


def test_responder_refuses_an_authentic_initiator_it_does_not_expect() -> None:
    initiator_config, responder_config = configs()
    mallory = dataclasses.replace(initiator_config, static_private_key=MALLORY[0])
    with pytest.raises(AuthenticationError):
        run(mallory, responder_config)


def test_rewriting_the_mode_in_the_header_is_a_downgrade() -> None:
    initiator_config, responder_config = configs()
    first = bytearray(HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW))
    first[2] = HandshakeMode.QKD_X25519.wire_code
    plain_responder = dataclasses.replace(responder_config, mode=HandshakeMode.QKD_X25519)
    with pytest.raises(DowngradeError):
        HandshakeResponder(responder_config).respond(bytes(first), b"q" * 32, NOW)
    # A responder configured for the weaker mode still fails: the length and prologue differ.
    with pytest.raises(RemoteProtocolError):
        HandshakeResponder(plain_responder).respond(bytes(first), b"q" * 32, NOW)


def test_ends_configured_with_different_modes_never_agree() -> None:
    hybrid_initiator, _ = configs()
    _, plain_responder = configs(HandshakeMode.QKD_X25519)
    with pytest.raises(DowngradeError):
        run(hybrid_initiator, plain_responder)
    plain_initiator, _ = configs(HandshakeMode.QKD_X25519)
    _, hybrid_responder = configs()
    with pytest.raises(DowngradeError):
        run(plain_initiator, hybrid_responder)


def test_a_rewritten_key_id_fails_authentication() -> None:
    initiator_config, responder_config = configs(HandshakeMode.QKD_X25519)
    first = bytearray(HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW))
    first[5] ^= 0x01  # inside the key ID
    with pytest.raises(AuthenticationError):
        HandshakeResponder(responder_config).respond(bytes(first), b"q" * 32, NOW)


def test_node_ids_are_bound() -> None:
    initiator_config, responder_config = configs()
    wrong = dataclasses.replace(responder_config, peer_id="hospital-c")
    with pytest.raises(AuthenticationError):
        run(initiator_config, wrong)


def test_a_replayed_first_message_is_refused_by_the_cache() -> None:
    initiator_config, responder_config = configs()
    cache = HandshakeReplayCache(window=120.0)
    first = HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW)
    HandshakeResponder(responder_config, replay_cache=cache).respond(first, b"q" * 32, NOW + 1)
    with pytest.raises(ReplayedHandshakeError):
        HandshakeResponder(responder_config, replay_cache=cache).respond(first, b"q" * 32, NOW + 2)


def test_an_old_first_message_is_stale_even_without_a_cache() -> None:
    initiator_config, responder_config = configs()
    first = HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW)
    with pytest.raises(StaleHandshakeError):
        HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW + 121)
    with pytest.raises(StaleHandshakeError):
        HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW - 121)
    assert issubclass(StaleHandshakeError, ReplayedHandshakeError)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
def test_truncated_and_extended_messages_are_remote_errors(mode: HandshakeMode) -> None:
    initiator_config, responder_config = configs(mode)
    initiator = HandshakeInitiator(initiator_config)
    first = initiator.start(b"q" * 32, uuid.uuid4(), NOW)
    for bad in (first[:0], first[:18], first[:-1], first + b"\x00"):
        with pytest.raises(RemoteProtocolError):
            HandshakeResponder(responder_config).respond(bad, b"q" * 32, NOW)
    second = HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW)
    with pytest.raises(RemoteProtocolError):
        initiator.finish(second[:-1])


def test_a_tampered_response_fails_authentication() -> None:
    initiator_config, responder_config = configs()
    initiator = HandshakeInitiator(initiator_config)
    first = initiator.start(b"q" * 32, uuid.uuid4(), NOW)
    second = bytearray(HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW))
    second[100] ^= 0x40  # inside the encrypted ML-KEM ciphertext
    with pytest.raises(AuthenticationError):
        initiator.finish(bytes(second))


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x16\x03\x01\x02\x00", b"GET / HTTP/1.1\r\n\r\n", b"\x01\x02\x09" + bytes(200)],
)
def test_peek_key_id_refuses_garbage(garbage: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        peek_key_id(garbage)


def test_peek_key_id_refuses_a_mode_mismatch_before_any_key_is_fetched() -> None:
    initiator_config, _ = configs(HandshakeMode.QKD_X25519)
    key_id = uuid.uuid4()
    first = HandshakeInitiator(initiator_config).start(b"q" * 32, key_id, NOW)
    assert peek_key_id(first) == key_id
    assert peek_key_id(first, expected_mode=HandshakeMode.QKD_X25519) == key_id
    with pytest.raises(DowngradeError):
        peek_key_id(first, expected_mode=HandshakeMode.QKD_X25519_MLKEM)
    with pytest.raises(RemoteProtocolError):
        peek_key_id(first[:10], expected_mode=HandshakeMode.QKD_X25519)


def test_single_use_and_order_are_enforced() -> None:
    initiator_config, responder_config = configs()
    initiator = HandshakeInitiator(initiator_config)
    with pytest.raises(LocalProtocolError):
        initiator.finish(b"")
    first = initiator.start(b"q" * 32, uuid.uuid4(), NOW)
    with pytest.raises(LocalProtocolError):
        initiator.start(b"q" * 32, uuid.uuid4(), NOW)
    responder = HandshakeResponder(responder_config)
    with pytest.raises(LocalProtocolError):
        _ = responder.result
    second = responder.respond(first, b"q" * 32, NOW)
    with pytest.raises(LocalProtocolError):
        responder.respond(first, b"q" * 32, NOW)
    initiator.finish(second)
    with pytest.raises(LocalProtocolError):
        initiator.finish(second)


@pytest.mark.parametrize("tamper", [False, True])
def test_the_initiator_drops_its_handshake_secrets_after_finish(tamper: bool) -> None:
    # Whether the response authenticates or not, no Noise state (PSK, ephemeral) or ML-KEM
    # decapsulation key stays reachable from the spent initiator.
    initiator_config, responder_config = configs()
    initiator = HandshakeInitiator(initiator_config)
    first = initiator.start(b"q" * 32, uuid.uuid4(), NOW)
    second = bytearray(HandshakeResponder(responder_config).respond(first, b"q" * 32, NOW))
    second[-1] ^= 0x01 if tamper else 0x00
    if tamper:
        with pytest.raises(AuthenticationError):
            initiator.finish(bytes(second))
    else:
        initiator.finish(bytes(second))
    held = [getattr(initiator, name) for name in initiator.__slots__]
    assert not any(isinstance(o, (HandshakeState, mlkem.MLKEM768PrivateKey)) for o in held)


def test_a_failed_responder_stays_failed() -> None:
    _, responder_config = configs()
    responder = HandshakeResponder(responder_config)
    with pytest.raises(RemoteProtocolError):
        responder.respond(b"junk", b"q" * 32, NOW)
    with pytest.raises(LocalProtocolError):
        responder.respond(b"junk", b"q" * 32, NOW)


@pytest.mark.parametrize("psk", [b"", b"q" * 31, b"q" * 33])
def test_psk_must_be_32_bytes(psk: bytes) -> None:
    initiator_config, responder_config = configs()
    with pytest.raises(LocalProtocolError):
        HandshakeInitiator(initiator_config).start(psk, uuid.uuid4(), NOW)
    with pytest.raises(LocalProtocolError):
        HandshakeResponder(responder_config).respond(b"", psk, NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"local_id": ""},
        {"peer_id": "x" * 256},
        {"peer_id": "hospital-a"},
        {"static_private_key": b"short"},
        {"peer_static_public_key": b"short"},
        {"mode": "qkd+x25519"},
        {"max_clock_skew": 0.0},
        {"max_clock_skew": float("nan")},
    ],
)
def test_config_is_validated(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        dataclasses.replace(configs()[0], **change)  # type: ignore[arg-type]


def test_no_secret_in_any_repr() -> None:
    psk = os.urandom(32)
    initiator_config, responder_config = configs()
    initiator = HandshakeInitiator(initiator_config)
    responder = HandshakeResponder(responder_config)
    result, _ = run(initiator_config, responder_config, psk_i=psk, psk_r=psk)
    assert initiator_config.static_public_key == ALICE[1]
    texts = [repr(initiator_config), repr(result), repr(initiator), repr(responder)]
    for secret in (psk, ALICE[0], result.send_key, result.receive_key):
        for text in texts:
            assert secret.hex() not in text
            assert repr(secret) not in text


def test_configs_never_compare_or_hash_the_private_key() -> None:
    # No generated __eq__/__hash__ runs over the secret: equality is identity.
    first, _ = configs()
    twin = dataclasses.replace(first)
    assert first != twin
    assert hash(first) == object.__hash__(first)


@pytest.mark.parametrize("now", [float("nan"), float("inf"), -1.0, 2.0**40, 1e300])
def test_a_bad_clock_value_is_a_local_error(now: float) -> None:
    initiator_config, responder_config = configs()
    with pytest.raises(LocalProtocolError):
        HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), now)
    first = HandshakeInitiator(initiator_config).start(b"q" * 32, uuid.uuid4(), NOW)
    if not math.isfinite(now):
        with pytest.raises(LocalProtocolError):
            HandshakeResponder(responder_config).respond(first, b"q" * 32, now)
