"""Hostile input to the handshake parsers only ever raises the remote or authentication error."""

from __future__ import annotations

import contextlib
import uuid

from cryptography.hazmat.primitives.asymmetric import x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.channel import (
    HandshakeConfig,
    HandshakeInitiator,
    HandshakeMode,
    HandshakeResponder,
    peek_key_id,
)
from protocols.errors import AuthenticationError, RemoteProtocolError

NOW = 1_790_000_000.0
PSK = b"p" * 32
_A = x25519.X25519PrivateKey.generate()
_B = x25519.X25519PrivateKey.generate()
CONFIGS = {
    mode: (
        HandshakeConfig("a", "b", _A.private_bytes_raw(), _B.public_key().public_bytes_raw(), mode),
        HandshakeConfig("b", "a", _B.private_bytes_raw(), _A.public_key().public_bytes_raw(), mode),
    )
    for mode in HandshakeMode
}
PLAIN = HandshakeMode.QKD_X25519
VALID_FIRST = HandshakeInitiator(CONFIGS[PLAIN][0]).start(PSK, uuid.uuid4(), NOW)
HOSTILE = (RemoteProtocolError, AuthenticationError)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([None, *HandshakeMode]))
def test_peek_key_id_on_arbitrary_bytes(data: bytes, mode: HandshakeMode | None) -> None:
    with contextlib.suppress(RemoteProtocolError):
        assert isinstance(peek_key_id(data, expected_mode=mode), uuid.UUID)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1400), st.sampled_from(list(HandshakeMode)))
def test_respond_on_arbitrary_bytes(data: bytes, mode: HandshakeMode) -> None:
    with contextlib.suppress(*HOSTILE):
        HandshakeResponder(CONFIGS[mode][1]).respond(data, PSK, NOW)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=len(VALID_FIRST) - 19, max_size=len(VALID_FIRST) - 19))
def test_respond_on_well_framed_random_noise_messages(noise: bytes) -> None:
    # A valid header with the exact length reaches the cryptography: only these errors.
    with contextlib.suppress(*HOSTILE):
        HandshakeResponder(CONFIGS[PLAIN][1]).respond(VALID_FIRST[:19] + noise, PSK, NOW)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(VALID_FIRST) - 1), st.integers(1, 255))
def test_respond_on_single_byte_mutations(index: int, flip: int) -> None:
    mutated = bytearray(VALID_FIRST)
    mutated[index] ^= flip
    responder = HandshakeResponder(CONFIGS[PLAIN][1])
    try:
        responder.respond(bytes(mutated), PSK, NOW)
    except HOSTILE:
        return
    raise AssertionError("a mutated initiation was accepted")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1200), st.sampled_from(list(HandshakeMode)))
def test_finish_on_arbitrary_bytes(data: bytes, mode: HandshakeMode) -> None:
    initiator = HandshakeInitiator(CONFIGS[mode][0])
    initiator.start(PSK, uuid.uuid4(), NOW)
    with contextlib.suppress(*HOSTILE):
        initiator.finish(data)
