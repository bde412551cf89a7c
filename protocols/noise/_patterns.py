"""Noise handshake patterns as data (rev 34, sections 7.4-7.6) and the `pskN` modifiers (9.4).

Patterns are written below in the specification's own notation and parsed once into
`HandshakePattern` values, so each can be checked against the spec by eye. `validate()` applies
the validity rules of section 7.3 (2) and section 9.3 to a pattern after its modifiers.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from protocols.noise._errors import UnsupportedProtocolError

__all__ = ["PATTERNS", "HandshakePattern", "Token", "build_pattern"]


class Token(enum.Enum):
    """A message-pattern token (section 7 and 9.2)."""

    E = "e"
    S = "s"
    EE = "ee"
    ES = "es"
    SE = "se"
    SS = "ss"
    PSK = "psk"


MessagePattern = tuple[Token, ...]


@dataclass(frozen=True, slots=True)
class HandshakePattern:
    """Pre-messages and message patterns of one handshake pattern."""

    name: str
    """The pattern name section, modifiers included (e.g. ``"IKpsk2"``)."""
    initiator_pre: MessagePattern
    """The initiator's pre-message (tokens from ``e``/``s``), known to the responder."""
    responder_pre: MessagePattern
    """The responder's pre-message, known to the initiator."""
    messages: tuple[MessagePattern, ...]
    """The handshake messages, alternately sent by initiator and responder, initiator first."""

    @property
    def one_way(self) -> bool:
        """True for the one-way patterns of section 7.4 (only the initiator sends transport)."""
        return len(self.messages) == 1

    @property
    def psk_count(self) -> int:
        """How many ``psk`` tokens the pattern holds (each consumes one PSK, in order)."""
        return sum(tokens.count(Token.PSK) for tokens in self.messages)


# Section 7.4 (one-way), 7.5 (fundamental interactive) and 7.6 (deferred interactive), in the
# spec's notation: "->"/"<-" lines before "..." are pre-messages.
_SPEC: Final = """
N:   <- s ... -> e, es
K:   -> s <- s ... -> e, es, ss
X:   <- s ... -> e, es, s, ss
NN:  -> e <- e, ee
NK:  <- s ... -> e, es <- e, ee
NX:  -> e <- e, ee, s, es
KN:  -> s ... -> e <- e, ee, se
KK:  -> s <- s ... -> e, es, ss <- e, ee, se
KX:  -> s ... -> e <- e, ee, se, s, es
XN:  -> e <- e, ee -> s, se
XK:  <- s ... -> e, es <- e, ee -> s, se
XX:  -> e <- e, ee, s, es -> s, se
IN:  -> e, s <- e, ee, se
IK:  <- s ... -> e, es, s, ss <- e, ee, se
IX:  -> e, s <- e, ee, se, s, es
NK1: <- s ... -> e <- e, ee, es
NX1: -> e <- e, ee, s -> es
X1N: -> e <- e, ee -> s <- se
X1K: <- s ... -> e, es <- e, ee -> s <- se
XK1: <- s ... -> e <- e, ee, es -> s, se
X1K1: <- s ... -> e <- e, ee, es -> s <- se
X1X: -> e <- e, ee, s, es -> s <- se
XX1: -> e <- e, ee, s -> es, s, se
X1X1: -> e <- e, ee, s -> es, s <- se
K1N: -> s ... -> e <- e, ee -> se
K1K: -> s <- s ... -> e, es <- e, ee -> se
KK1: -> s <- s ... -> e <- e, ee, se, es
K1K1: -> s <- s ... -> e <- e, ee, es -> se
K1X: -> s ... -> e <- e, ee, s, es -> se
KX1: -> s ... -> e <- e, ee, se, s -> es
K1X1: -> s ... -> e <- e, ee, s -> se, es
I1N: -> e, s <- e, ee -> se
I1K: <- s ... -> e, es, s <- e, ee -> se
IK1: <- s ... -> e, s <- e, ee, se, es
I1K1: <- s ... -> e, s <- e, ee, es -> se
I1X: -> e, s <- e, ee, s, es -> se
IX1: -> e, s <- e, ee, se, s -> es
I1X1: -> e, s <- e, ee, s -> se, es
"""

_ARROW = re.compile(r"(->|<-)\s*([a-z, ]*)")


def _tokens(text: str) -> MessagePattern:
    return tuple(Token(t.strip()) for t in text.split(",") if t.strip())


def _parse_spec_line(line: str) -> HandshakePattern:
    name, _, body = line.partition(":")
    pre_text, sep, msg_text = body.partition("...")
    if not sep:
        pre_text, msg_text = "", body
    initiator_pre: MessagePattern = ()
    responder_pre: MessagePattern = ()
    for arrow, tokens in _ARROW.findall(pre_text):
        if arrow == "->":
            initiator_pre = _tokens(tokens)
        else:
            responder_pre = _tokens(tokens)
    messages = tuple(_tokens(tokens) for _, tokens in _ARROW.findall(msg_text))
    return HandshakePattern(name.strip(), initiator_pre, responder_pre, messages)


PATTERNS: Final[dict[str, HandshakePattern]] = {
    p.name: p for p in (_parse_spec_line(line) for line in _SPEC.strip().splitlines())
}
"""Every base pattern of sections 7.4-7.6, by name."""

_PSK_MODIFIER = re.compile(r"psk([0-9]+)")
_NAME_SECTION = re.compile(r"([A-Z0-9]+)([a-z0-9+]*)")


def build_pattern(name_section: str) -> HandshakePattern:
    """The pattern for a handshake-pattern name section such as ``XXpsk3`` or ``NNpsk0+psk2``.

    ``psk0`` puts a ``psk`` token at the start of the first message; ``pskN`` (N >= 1) at the
    end of the N-th message (section 9.4). The result is checked with the validity rules.

    Raises:
        UnsupportedProtocolError: unknown base pattern or modifier, or an invalid result.
    """
    match = _NAME_SECTION.fullmatch(name_section)
    if match is None or match.group(1) not in PATTERNS:
        raise UnsupportedProtocolError(f"unknown handshake pattern {name_section!r}")
    base = PATTERNS[match.group(1)]
    modifiers = match.group(2).split("+") if match.group(2) else []
    messages = [list(m) for m in base.messages]
    for modifier in modifiers:
        psk = _PSK_MODIFIER.fullmatch(modifier)
        if psk is None:
            raise UnsupportedProtocolError(f"unsupported pattern modifier {modifier!r}")
        index = int(psk.group(1))
        if index > len(messages) or (modifier != f"psk{index}"):
            raise UnsupportedProtocolError(f"modifier {modifier!r} does not fit {base.name}")
        if index == 0:
            messages[0].insert(0, Token.PSK)
        else:
            messages[index - 1].append(Token.PSK)
    pattern = HandshakePattern(
        name_section,
        base.initiator_pre,
        base.responder_pre,
        tuple(tuple(m) for m in messages),
    )
    validate(pattern)
    return pattern


def validate(pattern: HandshakePattern) -> None:
    """Check rule 2 of section 7.3 (one ``e`` and one ``s`` per party) and section 9.3.

    Section 9.3: after a ``psk`` token a party may not send encrypted data unless it has sent
    an ephemeral public key, which keeps PSK-derived keys randomized by a fresh ephemeral.

    Raises:
        UnsupportedProtocolError: the pattern breaks a rule.
    """
    sent_e = [Token.E in pattern.initiator_pre, Token.E in pattern.responder_pre]
    sent_s = [Token.S in pattern.initiator_pre, Token.S in pattern.responder_pre]
    psk_seen = False
    for index, tokens in enumerate(pattern.messages):
        party = index % 2
        for token in tokens:
            if token is Token.E:
                if sent_e[party]:
                    raise UnsupportedProtocolError(f"{pattern.name}: 'e' sent twice")
                sent_e[party] = True
            elif token is Token.S:
                if sent_s[party]:
                    raise UnsupportedProtocolError(f"{pattern.name}: 's' sent twice")
                sent_s[party] = True
                if psk_seen and not sent_e[party]:
                    raise UnsupportedProtocolError(f"{pattern.name}: breaks section 9.3")
            elif token is Token.PSK:
                psk_seen = True
        if psk_seen and not sent_e[party]:
            raise UnsupportedProtocolError(f"{pattern.name}: breaks section 9.3")
    senders = (0,) if pattern.one_way else (0, 1)
    if psk_seen and not all(sent_e[p] for p in senders):
        raise UnsupportedProtocolError(f"{pattern.name}: breaks section 9.3 for transport")
