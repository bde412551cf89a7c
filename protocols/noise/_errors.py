"""Errors specific to the Noise framework, each a subclass of a root protocol error."""

from __future__ import annotations

from protocols.errors import LocalProtocolError

__all__ = ["NonceExhaustedError", "UnsupportedProtocolError"]


class UnsupportedProtocolError(LocalProtocolError, ValueError):
    """A Noise protocol name is malformed or names a pattern, modifier or function not supported."""


class NonceExhaustedError(LocalProtocolError):
    """A CipherState reached the reserved nonce 2**64-1 (Noise rev 34, section 5.1).

    The session must be ended and a new handshake run; the CipherState never encrypts again.
    """
