"""Running one test vector in the cacophony JSON format against this implementation.

The format (cacophony `vectors/cacophony.txt`, also used by snow): hex keys and prologues per
role, optional ``init_psks``/``resp_psks``, ``handshake_hash`` and ``messages`` of
payload/ciphertext pairs; the first messages are the handshake, alternating initiator and
responder, the rest transport messages (all from the initiator for one-way patterns).
Used by the test suite and by ``qkdlink selftest noise``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocols.errors import QkdlinkError
from protocols.noise._dh import KeyPair
from protocols.noise._handshake_state import HandshakeState
from protocols.noise._protocol import NoiseProtocol

__all__ = ["VectorMismatchError", "check_vector", "handshake_pair"]


class VectorMismatchError(QkdlinkError):
    """A test vector's expected output differs from what this implementation produced."""


def _hex(vector: Mapping[str, Any], name: str) -> bytes | None:
    value = vector.get(name)
    return None if value is None else bytes.fromhex(value)


def handshake_pair(vector: Mapping[str, Any]) -> tuple[HandshakeState, HandshakeState]:
    """Initiator and responder set up from a vector, with its fixed ephemerals (test hook).

    Raises:
        UnsupportedProtocolError: the vector's protocol name is not supported.
        LocalProtocolError: the vector's keys do not fit the pattern.
        ValueError, KeyError: the vector is malformed.
    """
    protocol = NoiseProtocol.from_name(vector["protocol_name"])
    states: list[HandshakeState] = []
    for role in ("init", "resp"):
        static = _hex(vector, f"{role}_static")
        keypair: KeyPair | None = None
        if static is not None:
            keypair = protocol.dh.keypair_from_private(static)
        state = HandshakeState(
            protocol,
            initiator=role == "init",
            prologue=_hex(vector, f"{role}_prologue") or b"",
            s=keypair,
            rs=_hex(vector, f"{role}_remote_static"),
            psks=[bytes.fromhex(p) for p in vector.get(f"{role}_psks", [])],
        )
        ephemeral = _hex(vector, f"{role}_ephemeral")
        if ephemeral is not None:
            state.set_ephemeral_for_testing(ephemeral)
        states.append(state)
    return states[0], states[1]


def check_vector(vector: Mapping[str, Any]) -> None:
    """Run a vector: every ciphertext, the handshake hash and each payload must match exactly.

    Raises:
        VectorMismatchError: an output differs (the message says which).
        QkdlinkError, ValueError, KeyError: the vector could not be run at all.
    """
    initiator, responder = handshake_pair(vector)
    pattern = initiator.protocol.pattern
    handshake_len = len(pattern.messages)
    for index, message in enumerate(vector["messages"]):
        payload = bytes.fromhex(message["payload"])
        expected = bytes.fromhex(message["ciphertext"])
        from_initiator = index % 2 == 0 or (pattern.one_way and index >= handshake_len)
        sender, receiver = (initiator, responder) if from_initiator else (responder, initiator)
        if index < handshake_len:
            ciphertext = sender.write_message(payload)
            kind = "handshake"
        else:
            ciphertext = sender.transport().write_message(payload)
            kind = "transport"
        if ciphertext != expected:
            raise VectorMismatchError(f"{kind} message {index}: ciphertext differs")
        received = (
            receiver.read_message(ciphertext)
            if index < handshake_len
            else receiver.transport().read_message(ciphertext)
        )
        if received != payload:
            raise VectorMismatchError(f"{kind} message {index}: payload differs")
        if index == handshake_len - 1:
            expected_hash = bytes.fromhex(vector["handshake_hash"])
            if not initiator.handshake_hash == responder.handshake_hash == expected_hash:
                raise VectorMismatchError("handshake hash differs")
    if not initiator.is_finished:
        raise VectorMismatchError("the vector ends before the handshake does")
