"""The Noise `HandshakeState` (rev 34, section 5.3) with PSK handling (section 9), sans-IO.

A handshake is driven by alternate `write_message()` / `read_message()` calls. Any failure
moves the state to ERROR for good: the spec deletes a HandshakeState after a failed message.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from protocols.errors import LocalProtocolError, QkdlinkError, RemoteProtocolError
from protocols.noise._cipher_state import TAG_LEN
from protocols.noise._dh import KeyPair
from protocols.noise._patterns import Token
from protocols.noise._protocol import NoiseProtocol
from protocols.noise._symmetric_state import SymmetricState
from protocols.noise._transport import MAX_MESSAGE_LEN, NoiseTransport

__all__ = ["HandshakeState"]

PSK_LEN = 32


class _Phase(enum.Enum):
    HANDSHAKE = "handshake"
    FINISHED = "finished"
    ERROR = "error"


class HandshakeState:
    """One party's side of a Noise handshake."""

    __slots__ = (
        "_e",
        "_index",
        "_initiator",
        "_phase",
        "_protocol",
        "_psk_mode",
        "_psks",
        "_re",
        "_rs",
        "_s",
        "_symmetric",
        "_transport",
    )

    def __init__(
        self,
        protocol: NoiseProtocol | str,
        *,
        initiator: bool,
        prologue: bytes = b"",
        s: KeyPair | None = None,
        rs: bytes | None = None,
        psks: Sequence[bytes] = (),
    ) -> None:
        """Initialize(handshake_pattern, initiator, prologue, s, e, rs, re) of section 5.3.

        Args:
            protocol: the protocol or its name, e.g. ``"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"``.
            initiator: this party's role.
            prologue: data both parties must agree on (section 6).
            s: the local static key pair, if the pattern uses one.
            rs: the remote static public key, if the pattern has it as a pre-message.
            psks: one 32-byte PSK per ``psk`` token, in order.

        Raises:
            UnsupportedProtocolError: the protocol name is invalid or unsupported.
            LocalProtocolError: keys or PSKs missing, superfluous or of the wrong size.
        """
        if isinstance(protocol, str):
            protocol = NoiseProtocol.from_name(protocol)
        self._protocol = protocol
        self._initiator = initiator
        self._s = s
        self._e: KeyPair | None = None
        self._rs = rs
        self._re: bytes | None = None
        self._psks = list(psks)
        self._index = 0
        self._phase = _Phase.HANDSHAKE
        self._transport: NoiseTransport | None = None
        pattern = protocol.pattern
        self._psk_mode = pattern.psk_count > 0
        self._check_keys()

        self._symmetric = SymmetricState(protocol.name.encode(), protocol.hash, protocol.cipher)
        self._symmetric.mix_hash(prologue)
        # Initiator's pre-message keys are hashed first, then the responder's (section 5.3).
        for owner_is_initiator, tokens in (
            (True, pattern.initiator_pre),
            (False, pattern.responder_pre),
        ):
            for token in tokens:
                if token is not Token.S:
                    raise LocalProtocolError("ephemeral pre-messages (fallback) are not supported")
                local = owner_is_initiator == initiator
                public = self._s.public if local and self._s else self._rs
                if public is None:
                    raise LocalProtocolError("a pre-message static key is missing")
                self._symmetric.mix_hash(public)

    def _check_keys(self) -> None:
        """Validity rule 1 of section 7.3: only keys the pattern needs, and all of them."""
        pattern = self._protocol.pattern
        dhlen = self._protocol.dh.dhlen
        own_pre = pattern.initiator_pre if self._initiator else pattern.responder_pre
        remote_pre = pattern.responder_pre if self._initiator else pattern.initiator_pre
        own_messages = pattern.messages[0 if self._initiator else 1 :: 2]
        own_static_dh = {Token.SE, Token.SS} if self._initiator else {Token.ES, Token.SS}
        needs_s = (
            Token.S in own_pre
            or any(Token.S in m for m in own_messages)
            or any(t in own_static_dh for m in pattern.messages for t in m)
        )
        if needs_s != (self._s is not None):
            raise LocalProtocolError(
                f"{pattern.name} {'needs' if needs_s else 'takes no'} local static key"
            )
        if self._s is not None and len(self._s.public) != dhlen:
            raise LocalProtocolError("local static key has the wrong DH function")
        needs_rs = Token.S in remote_pre
        if needs_rs != (self._rs is not None):
            raise LocalProtocolError(
                f"{pattern.name} {'needs' if needs_rs else 'takes no'} remote static key"
            )
        if self._rs is not None and len(self._rs) != dhlen:
            raise LocalProtocolError(f"remote static key must be {dhlen} bytes")
        if len(self._psks) != pattern.psk_count:
            raise LocalProtocolError(f"{pattern.name} needs {pattern.psk_count} PSK(s)")
        if any(len(psk) != PSK_LEN for psk in self._psks):
            raise LocalProtocolError("PSKs are 32 bytes (section 9)")

    def __repr__(self) -> str:
        role = "initiator" if self._initiator else "responder"
        return f"<HandshakeState {self._protocol.name} {role} {self._phase.value}>"

    # -- introspection -----------------------------------------------------------------------

    @property
    def protocol(self) -> NoiseProtocol:
        """The protocol this handshake runs."""
        return self._protocol

    @property
    def is_initiator(self) -> bool:
        """This party's role."""
        return self._initiator

    @property
    def is_finished(self) -> bool:
        """True once the last handshake message was written or read."""
        return self._phase is _Phase.FINISHED

    @property
    def is_my_turn(self) -> bool:
        """True when the next call must be `write_message()`."""
        return self._phase is _Phase.HANDSHAKE and (self._index % 2 == 0) == self._initiator

    @property
    def remote_static(self) -> bytes | None:
        """The peer's static public key, once known (pre-message or received)."""
        return self._rs

    @property
    def handshake_hash(self) -> bytes:
        """GetHandshakeHash(), available once the handshake is finished.

        Raises:
            LocalProtocolError: the handshake is not finished.
        """
        if self._transport is None:
            raise LocalProtocolError("the handshake hash is final only after the handshake")
        return self._transport.handshake_hash

    def transport(self) -> NoiseTransport:
        """The transport CipherStates after the handshake.

        Raises:
            LocalProtocolError: the handshake is not finished.
        """
        if self._transport is None:
            raise LocalProtocolError("handshake not finished")
        return self._transport

    def set_ephemeral_for_testing(self, private: bytes) -> None:
        """TEST HOOK: use `private` as the next ephemeral key instead of a fresh one.

        Only for reproducing test vectors; a fixed ephemeral in production destroys forward
        secrecy and PSK randomization (section 9.3, 14 "Fresh ephemerals").
        """
        if self._e is not None or self._phase is not _Phase.HANDSHAKE:
            raise LocalProtocolError("the ephemeral key is already in use")
        self._e = self._protocol.dh.keypair_from_private(private)

    # -- messages ----------------------------------------------------------------------------

    def _tokens_for_turn(self, writing: bool) -> tuple[Token, ...]:
        if self._phase is not _Phase.HANDSHAKE:
            raise LocalProtocolError(f"handshake is {self._phase.value}")
        if self.is_my_turn != writing:
            raise LocalProtocolError("not this party's turn to " + ("write" if writing else "read"))
        return self._protocol.pattern.messages[self._index]

    def _message_length(self, tokens: tuple[Token, ...], payload_len: int) -> int:
        """The exact size of the message to write, computed before any state changes."""
        dhlen = self._protocol.dh.dhlen
        has_key = self._symmetric.cipher_state.has_key
        size = 0
        for token in tokens:
            if token is Token.E:
                size += dhlen
                has_key = has_key or self._psk_mode
            elif token is Token.S:
                size += dhlen + (TAG_LEN if has_key else 0)
            else:
                has_key = True
        return size + payload_len + (TAG_LEN if has_key else 0)

    def write_message(self, payload: bytes = b"") -> bytes:
        """WriteMessage(payload): the next handshake message, at most 65535 bytes.

        Raises:
            LocalProtocolError: not this party's turn, handshake over, or message too large.
        """
        tokens = self._tokens_for_turn(writing=True)
        if self._message_length(tokens, len(payload)) > MAX_MESSAGE_LEN:
            raise LocalProtocolError("handshake message would exceed 65535 bytes")
        symmetric = self._symmetric
        out: list[bytes] = []
        try:
            for token in tokens:
                if token is Token.E:
                    if self._e is None:
                        self._e = self._protocol.dh.generate_keypair()
                    out.append(self._e.public)
                    symmetric.mix_hash(self._e.public)
                    if self._psk_mode:
                        symmetric.mix_key(self._e.public)
                elif token is Token.S:
                    if self._s is None:
                        raise LocalProtocolError("local static key missing")
                    out.append(symmetric.encrypt_and_hash(self._s.public))
                else:
                    self._mix_token(token)
            out.append(symmetric.encrypt_and_hash(payload))
        except QkdlinkError:
            self._fail()
            raise
        self._advance()
        return b"".join(out)

    def read_message(self, message: bytes) -> bytes:
        """ReadMessage(message): the payload of the peer's next handshake message.

        Raises:
            RemoteProtocolError: the message is too long, too short or carries a bad key.
            AuthenticationError: an encrypted field did not authenticate (wrong keys, PSK,
                prologue, or tampering).
            LocalProtocolError: not this party's turn, or the handshake is over.
        """
        tokens = self._tokens_for_turn(writing=False)
        symmetric = self._symmetric
        dhlen = self._protocol.dh.dhlen
        view = memoryview(message)
        try:
            if len(message) > MAX_MESSAGE_LEN:
                raise RemoteProtocolError("handshake message exceeds 65535 bytes")
            for token in tokens:
                if token is Token.E:
                    if len(view) < dhlen:
                        raise RemoteProtocolError("handshake message truncated")
                    self._re = bytes(view[:dhlen])
                    view = view[dhlen:]
                    symmetric.mix_hash(self._re)
                    if self._psk_mode:
                        symmetric.mix_key(self._re)
                elif token is Token.S:
                    size = dhlen + (TAG_LEN if symmetric.cipher_state.has_key else 0)
                    if len(view) < size:
                        raise RemoteProtocolError("handshake message truncated")
                    self._rs = symmetric.decrypt_and_hash(bytes(view[:size]))
                    view = view[size:]
                else:
                    self._mix_token(token)
            if symmetric.cipher_state.has_key and len(view) < TAG_LEN:
                raise RemoteProtocolError("handshake message truncated")
            payload = symmetric.decrypt_and_hash(bytes(view))
        except QkdlinkError:
            self._fail()
            raise
        self._advance()
        return payload

    def _mix_token(self, token: Token) -> None:
        """The DH tokens and ``psk`` (sections 5.3 and 9.2)."""
        if token is Token.PSK:
            self._symmetric.mix_key_and_hash(self._psks.pop(0))
            return
        local_static = (token is Token.SE) == self._initiator
        if token is Token.EE:
            local, remote = self._e, self._re
        elif token is Token.SS:
            local, remote = self._s, self._rs
        elif local_static:  # initiator "se" / responder "es": our static, their ephemeral
            local, remote = self._s, self._re
        else:  # initiator "es" / responder "se": our ephemeral, their static
            local, remote = self._e, self._rs
        if local is None or remote is None:
            raise LocalProtocolError(f"a key for {token.value!r} is missing")
        self._symmetric.mix_key(self._protocol.dh.dh(local, remote))

    def _fail(self) -> None:
        """Enter ERROR for good and drop the secrets a deleted HandshakeState would lose."""
        self._phase = _Phase.ERROR
        self._e = None
        self._psks.clear()

    def _advance(self) -> None:
        self._index += 1
        if self._index < len(self._protocol.pattern.messages):
            return
        c1, c2 = self._symmetric.split()
        h = self._symmetric.handshake_hash
        if self._protocol.pattern.one_way:
            send, receive = (c1, None) if self._initiator else (None, c1)
        else:
            send, receive = (c1, c2) if self._initiator else (c2, c1)
        self._transport = NoiseTransport(send, receive, h)
        self._phase = _Phase.FINISHED
        self._e = None
        self._psks.clear()
