"""Noise transport messages (rev 34, section 5 and 3): the two CipherStates after Split."""

from __future__ import annotations

from typing import Final

from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.noise._cipher_state import TAG_LEN, CipherState

__all__ = ["MAX_MESSAGE_LEN", "NoiseTransport"]

MAX_MESSAGE_LEN: Final = 65535
"""Every Noise message is at most 65535 bytes (section 3)."""


class NoiseTransport:
    """The sending and receiving CipherStates of one party; transport AD is empty."""

    __slots__ = ("handshake_hash", "receive", "send")

    def __init__(
        self, send: CipherState | None, receive: CipherState | None, handshake_hash: bytes
    ) -> None:
        self.send = send
        """Encrypts outgoing messages; None for the recipient of a one-way pattern."""
        self.receive = receive
        """Decrypts incoming messages; None for the sender of a one-way pattern."""
        self.handshake_hash = handshake_hash
        """The final `h`, for channel binding (section 11.2)."""

    def __repr__(self) -> str:
        return f"<NoiseTransport send={self.send!r} receive={self.receive!r}>"

    def write_message(self, payload: bytes) -> bytes:
        """Encrypt one transport message.

        Raises:
            LocalProtocolError: payload too large, or this party may not send (one-way pattern).
            NonceExhaustedError: the sending nonce space is used up.
        """
        if self.send is None:
            raise LocalProtocolError("the recipient of a one-way pattern never sends")
        if len(payload) + TAG_LEN > MAX_MESSAGE_LEN:
            raise LocalProtocolError("transport payload exceeds the 65535-byte message limit")
        return self.send.encrypt_with_ad(b"", payload)

    def read_message(self, message: bytes) -> bytes:
        """Decrypt one transport message.

        Raises:
            RemoteProtocolError: the message exceeds 65535 bytes.
            AuthenticationError: the message did not authenticate.
            LocalProtocolError: this party never receives (one-way pattern).
        """
        if self.receive is None:
            raise LocalProtocolError("the sender of a one-way pattern never receives")
        if len(message) > MAX_MESSAGE_LEN:
            raise RemoteProtocolError("transport message exceeds 65535 bytes")
        return self.receive.decrypt_with_ad(b"", message)
