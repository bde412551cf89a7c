"""The root of qkdlink's exception hierarchy and the errors raised by the sans-IO protocol cores.

The root class lives here, in the innermost layer, so that `protocols/` depends on nothing
outward; `qkdlink.errors` re-exports it as `qkdlink.errors.QkdlinkError`, the name callers use.
Messages never contain key material (DEVELOPERS.md, security rules).
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "LocalProtocolError",
    "PostProcessingAbortedError",
    "ProtocolError",
    "QkdlinkError",
    "RemoteProtocolError",
]


class QkdlinkError(Exception):
    """Base class of every error qkdlink raises on purpose."""


class ProtocolError(QkdlinkError):
    """A protocol rule was broken; see the two subclasses for who broke it."""


class LocalProtocolError(ProtocolError):
    """The caller misused a protocol object (wrong state, wrong argument); a bug on our side."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids: malformed, truncated or out-of-state data.

    Parsers raise this (and only this) on hostile input, so fuzzers can assert it.
    """


class AuthenticationError(QkdlinkError):
    """An authentication check failed (AEAD tag, MAC, handshake).

    Deliberately opaque: one exception whatever the cause, so it cannot serve as an oracle
    (compare pyca/cryptography's `InvalidToken`).
    """


class PostProcessingAbortedError(QkdlinkError):
    """QKD post-processing ended a block without key; `reason` says why (QBER too high, ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
