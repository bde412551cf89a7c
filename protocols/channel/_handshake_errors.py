"""Typed failures of the qkdlink channel handshake that a caller handles differently.

Cryptographic failures (wrong PSK, wrong static key, tampering) stay the one opaque
`AuthenticationError`; these are the checks made on authenticated or clear header data.
"""

from __future__ import annotations

from protocols.errors import RemoteProtocolError

__all__ = ["DowngradeError", "ReplayedHandshakeError", "StaleHandshakeError"]


class DowngradeError(RemoteProtocolError):
    """The initiation asks for a hybrid mode other than the configured one.

    Either an attacker rewrote the mode (a downgrade attempt) or the two ends are configured
    differently; never answered with a weaker mode.
    """


class ReplayedHandshakeError(RemoteProtocolError):
    """An authenticated initiation was seen before (same QKD key ID): a replay."""


class StaleHandshakeError(ReplayedHandshakeError):
    """An authenticated initiation carries a timestamp outside the accepted clock window."""
