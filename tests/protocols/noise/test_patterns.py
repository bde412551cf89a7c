"""Handshake patterns as data, psk modifiers and the validity rules of sections 7.3 and 9.3."""

from __future__ import annotations

import pytest

from protocols.noise import PATTERNS, Token, UnsupportedProtocolError, build_pattern
from protocols.noise._patterns import HandshakePattern, validate

E, S, EE, ES, SE, SS, PSK = (Token(t) for t in ("e", "s", "ee", "es", "se", "ss", "psk"))


def test_all_38_patterns_of_sections_7_4_to_7_6() -> None:
    assert len(PATTERNS) == 3 + 12 + 23
    assert {"N", "K", "X", "XX", "IK", "NK1", "X1K1", "I1X1"} <= set(PATTERNS)


def test_ik_and_a_deferred_pattern_read_as_in_the_spec() -> None:
    ik = PATTERNS["IK"]
    assert ik.initiator_pre == ()
    assert ik.responder_pre == (S,)
    assert ik.messages == ((E, ES, S, SS), (E, EE, SE))
    x1k1 = PATTERNS["X1K1"]
    assert x1k1.responder_pre == (S,)
    assert x1k1.messages == ((E,), (E, EE, ES), (S,), (SE,))


def test_psk_modifiers_place_the_token() -> None:
    assert build_pattern("IKpsk2").messages == ((E, ES, S, SS), (E, EE, SE, PSK))
    assert build_pattern("NNpsk0").messages == ((PSK, E), (E, EE))
    assert build_pattern("XXpsk0+psk3").messages[0] == (PSK, E)
    assert build_pattern("XXpsk0+psk3").messages[2] == (S, SE, PSK)
    assert build_pattern("XXpsk3").psk_count == 1
    assert build_pattern("XXpsk0+psk3").psk_count == 2


@pytest.mark.parametrize(
    "name", ["ZZ", "XXpsk4", "XXfallback", "XXpsk", "xx", "XXpsk01", "XX+psk0", "IKpsk2x"]
)
def test_unknown_patterns_and_modifiers_are_refused(name: str) -> None:
    with pytest.raises(UnsupportedProtocolError):
        build_pattern(name)


def test_every_pattern_with_every_single_psk_modifier_is_valid() -> None:
    for name, pattern in PATTERNS.items():
        for index in range(len(pattern.messages) + 1):
            assert build_pattern(f"{name}psk{index}").psk_count == 1


def test_psk_without_a_prior_ephemeral_breaks_section_9_3() -> None:
    # The responder would encrypt its payload under a PSK key never randomized by its own "e".
    bad = HandshakePattern("bad", (), (), ((E,), (PSK, EE)))
    with pytest.raises(UnsupportedProtocolError, match=r"9\.3"):
        validate(bad)


def test_sending_e_twice_breaks_section_7_3() -> None:
    with pytest.raises(UnsupportedProtocolError, match="twice"):
        validate(HandshakePattern("bad", (), (), ((E,), (E, EE), (E,))))
