"""How many keys a KME delivered: to masters through enc_keys, to slaves through dec_keys.

A key counts once its delivery has committed: for enc_keys when the peer KME confirmed the
synchronisation and the keys go into the master's response; for dec_keys when the store's
all-or-nothing take has deleted the slave's copies. Refused, failed or rolled-back requests count
nothing. A response lost after that point still counts: its keys are consumed and never handed
out again, like the durable consume they follow. Counts are kept in memory, since this KME
started (a restart begins again from zero).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeliveredKeys"]


@dataclass(frozen=True, slots=True)
class DeliveredKeys:
    """Keys delivered since start: to masters (enc_keys) and to slaves (dec_keys). No material."""

    enc_keys: int = 0
    dec_keys: int = 0

    def to_json(self) -> dict[str, int]:
        """The counts as a JSON object (`{"enc_keys": n, "dec_keys": m}`)."""
        return {"enc_keys": self.enc_keys, "dec_keys": self.dec_keys}
