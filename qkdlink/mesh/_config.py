"""The mesh's configuration: who the parties are and how long anything may take."""

from __future__ import annotations

from dataclasses import dataclass

from qkdlink.errors import ConfigurationError

__all__ = ["MeshConfig"]


@dataclass(frozen=True, slots=True)
class MeshConfig:
    """One party's view of an N-party mesh."""

    party: str
    """This party's id."""
    parties: tuple[str, ...]
    """All party ids in rank order (the same tuple at every party)."""
    mesh_id: str = "qkdlink-mesh"
    """Names this computation; a peer announcing another mesh id is refused."""
    connect_timeout: float = 30.0
    """Seconds to wait until every peer is connected (dialling with retry)."""
    retry_interval: float = 0.1
    """Seconds between dial attempts."""
    recv_timeout: float = 60.0
    """Seconds a receive may wait before the peer counts as gone (no hangs)."""
    send_timeout: float = 60.0
    """Seconds one send may stay blocked on a peer that stops reading before it counts as gone."""
    inline_limit: int = 64 * 1024
    """Payloads up to this many bytes travel in the header record; larger ones follow it."""
    max_message: int = 1 << 31
    """Largest payload accepted from a peer."""
    max_pending: int = 4096
    """Messages a peer may have delivered that nobody has asked for yet (flood bound)."""
    remembered_tags: int = 1 << 16
    """Consumed tags remembered per peer to refuse repeats (bounded memory on long runs)."""

    def __post_init__(self) -> None:
        if len(self.parties) < 2:
            raise ConfigurationError("a mesh needs at least two parties")
        if len(set(self.parties)) != len(self.parties) or not all(self.parties):
            raise ConfigurationError("party ids must be distinct and non-empty")
        if self.party not in self.parties:
            raise ConfigurationError(f"{self.party!r} is not one of the parties")
        for name in ("connect_timeout", "retry_interval", "recv_timeout", "send_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive")
        if (
            self.inline_limit < 0
            or self.max_message <= 0
            or self.max_pending <= 0
            or self.remembered_tags <= 0
        ):
            raise ConfigurationError("limits must be positive")

    @property
    def rank(self) -> int:
        """This party's position in `parties`."""
        return self.parties.index(self.party)

    @property
    def peers(self) -> tuple[str, ...]:
        """Every party but this one, in rank order."""
        return tuple(p for p in self.parties if p != self.party)
