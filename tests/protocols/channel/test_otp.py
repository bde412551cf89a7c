"""One-time pad with a Wegman-Carter (Poly1305) MAC: vectors, round trips, refusal of bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.channel import otp_open, otp_pad_size, otp_seal
from protocols.errors import AuthenticationError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "otp_poly1305.json").read_text())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["tag"][:8])
def test_tag_matches_rfc8439_poly1305(vector: dict[str, str]) -> None:
    message = bytes.fromhex(vector["message"])
    pad = bytes.fromhex(vector["mac_key"]) + bytes(len(message))
    sealed = otp_seal(pad, message)
    assert sealed[:-16] == message  # zero pad: ciphertext is the message
    assert sealed[-16:].hex() == vector["tag"]
    assert otp_open(pad, sealed) == message


@given(st.binary(max_size=2048))
def test_round_trip_and_ciphertext_is_message_xor_pad(message: bytes) -> None:
    pad = os.urandom(otp_pad_size(len(message)))
    sealed = otp_seal(pad, message)
    assert len(sealed) == len(message) + 16
    assert bytes(c ^ p for c, p in zip(sealed, pad[32:], strict=False)) == message
    assert otp_open(pad, sealed) == message


def test_every_bit_flip_is_rejected() -> None:
    message = b"biopsy result: benign"
    pad = os.urandom(otp_pad_size(len(message)))
    sealed = otp_seal(pad, message)
    for i in range(len(sealed) * 8):
        bad = bytearray(sealed)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(AuthenticationError):
            otp_open(pad, bytes(bad))


def test_wrong_pad_short_pad_and_short_input_are_rejected() -> None:
    message = b"x" * 40
    pad = os.urandom(otp_pad_size(40))
    sealed = otp_seal(pad, message)
    with pytest.raises(AuthenticationError):
        otp_open(os.urandom(len(pad)), sealed)
    with pytest.raises(AuthenticationError):
        otp_open(pad[:-1], sealed)
    with pytest.raises(AuthenticationError):
        otp_open(pad, sealed[:15])
    with pytest.raises(ValueError, match="shorter"):
        otp_seal(pad[:-1], message)
