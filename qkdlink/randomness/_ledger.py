"""The consumption record of QKD keys turned into seeds: each key ID serves one purpose, once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from qkdlink.errors import KeyIdError

__all__ = ["SeedLedger", "SeedRecord"]


@dataclass(frozen=True, slots=True)
class SeedRecord:
    """One QKD key consumed for a seed (no key material, only its name and use)."""

    peer: str
    """The party at the other end of the QKD link the key came from."""
    key_id: str
    """The ETSI 014 key ID."""
    purpose: str
    """What the seed is for (e.g. "przs/round-3"); one key, one purpose."""


class SeedLedger:
    """Remembers every key ID this party has turned into a seed and refuses a second use.

    A party keeps one ledger for its lifetime (all meshes and purposes), so a key ID replayed by
    a confused or hostile peer can never yield the same seed twice.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], SeedRecord] = {}
        self._records: list[SeedRecord] = []

    def consume(self, peer: str, key_id: str, purpose: str) -> SeedRecord:
        """Record that `key_id` (from the link with `peer`) now serves `purpose`.

        Raises:
            KeyIdError: the key ID was already consumed (for any purpose).
        """
        if (peer, key_id) in self._seen:
            raise KeyIdError(f"key ID {key_id} from link with {peer!r} was already consumed")
        record = SeedRecord(peer, key_id, purpose)
        self._seen[(peer, key_id)] = record
        self._records.append(record)
        return record

    def __contains__(self, item: tuple[str, str]) -> bool:
        return item in self._seen

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> tuple[SeedRecord, ...]:
        """Every consumption in order."""
        return tuple(self._records)

    def by_purpose(self) -> dict[str, int]:
        """How many keys each purpose consumed."""
        return dict(Counter(r.purpose for r in self._records))

    def by_peer(self) -> dict[str, int]:
        """How many keys were consumed from each link."""
        return dict(Counter(r.peer for r in self._records))
