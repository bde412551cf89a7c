"""What a QKD link reports about its distillation so far: public figures, never key material.

A key source MAY implement `ReportsLinkStatistics` (a simulated link does; a key file has no
link to report on). Both ends of a link run identical sources, so their figures agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from qkdlink.errors import ConfigurationError

__all__ = ["LinkStatistics", "ReportsLinkStatistics"]


@dataclass(frozen=True, slots=True)
class LinkStatistics:
    """A link's distillation since its key source started: every attempt (a block of pulses
    through post-processing) counts for attempts, pulses, link time, detections and sifted bits;
    only accepted blocks count for the QBER and the key. No key material.

    The QBER is pooled over the accepted blocks as the mean of their per-block estimates weighted
    by each block's sifted bits (`accepted_sifted_bits` in all), i.e. total errors over total
    compared bits when each block compares the same share of its sifted bits.
    """

    attempts: int = 0
    """Attempts finished, accepted or aborted."""
    accepted_blocks: int = 0
    """Attempts that yielded key (the blocks handed out)."""
    pulses: int = 0
    """Pulses sent, all attempts."""
    link_seconds: float = 0.0
    """Link time of all attempts (pulses / pulse rate): what the key rate is measured over."""
    detections: int = 0
    """Detections, all attempts."""
    sifted_bits: int = 0
    """Bits whose bases matched, all attempts."""
    accepted_sifted_bits: int = 0
    """Sifted bits of the accepted blocks: the weights of `qber`."""
    qber: float | None = None
    """Pooled error rate of the accepted blocks (see class docstring); None before the first."""
    net_key_bits: int = 0
    """Key bits the accepted blocks added (after the authentication key they consumed)."""

    def __post_init__(self) -> None:
        counts = (self.attempts, self.accepted_blocks, self.pulses, self.detections)
        if min(*counts, self.sifted_bits, self.accepted_sifted_bits, self.net_key_bits) < 0:
            raise ConfigurationError("link statistics cannot be negative")
        if not (math.isfinite(self.link_seconds) and self.link_seconds >= 0.0):
            raise ConfigurationError("link_seconds must be finite and non-negative")
        if self.accepted_blocks > self.attempts or self.accepted_sifted_bits > self.sifted_bits:
            raise ConfigurationError("accepted figures cannot exceed those of all attempts")
        if (self.qber is None) != (self.accepted_blocks == 0):
            raise ConfigurationError("qber is given exactly when a block was accepted")
        if self.qber is not None and not 0.0 <= self.qber <= 1.0:
            raise ConfigurationError("qber must lie in [0, 1]")
        if self.net_key_bits and not self.accepted_blocks:
            raise ConfigurationError("only accepted blocks yield key")

    @property
    def aborted_attempts(self) -> int:
        """Attempts that yielded no key."""
        return self.attempts - self.accepted_blocks

    @property
    def secret_key_rate_bps(self) -> float:
        """Net key bits per second of link time (aborted attempts' time included); 0 before any."""
        return self.net_key_bits / self.link_seconds if self.link_seconds > 0 else 0.0

    def after_attempt(
        self,
        *,
        pulses: int,
        link_seconds: float,
        detections: int,
        sifted_bits: int,
        accepted: bool,
        qber: float | None = None,
        net_key_bits: int = 0,
    ) -> LinkStatistics:
        """These figures plus one finished attempt (`qber` and key only if it was accepted).

        Raises:
            ConfigurationError: an aborted attempt with key or a QBER, an accepted one without
                a QBER, or figures out of range.
        """
        totals = replace(
            self,
            attempts=self.attempts + 1,
            pulses=self.pulses + pulses,
            link_seconds=self.link_seconds + link_seconds,
            detections=self.detections + detections,
            sifted_bits=self.sifted_bits + sifted_bits,
        )
        if not accepted:
            if qber is not None or net_key_bits:
                raise ConfigurationError("an aborted attempt has no QBER and yields no key")
            return totals
        if qber is None:
            raise ConfigurationError("an accepted block needs its QBER")
        weight = self.accepted_sifted_bits + sifted_bits
        pooled = qber
        if self.qber is not None and weight:
            pooled = (self.qber * self.accepted_sifted_bits + qber * sifted_bits) / weight
        return replace(
            totals,
            accepted_blocks=self.accepted_blocks + 1,
            accepted_sifted_bits=weight,
            qber=pooled,
            net_key_bits=self.net_key_bits + net_key_bits,
        )

    def to_json(self) -> dict[str, int | float | None]:
        """The figures as a JSON object, with `aborted_attempts` and `secret_key_rate_bps`."""
        return {
            "attempts": self.attempts,
            "accepted_blocks": self.accepted_blocks,
            "aborted_attempts": self.aborted_attempts,
            "pulses": self.pulses,
            "link_seconds": self.link_seconds,
            "detections": self.detections,
            "sifted_bits": self.sifted_bits,
            "accepted_sifted_bits": self.accepted_sifted_bits,
            "qber": self.qber,
            "net_key_bits": self.net_key_bits,
            "secret_key_rate_bps": self.secret_key_rate_bps,
        }


@runtime_checkable
class ReportsLinkStatistics(Protocol):
    """A key source that reports its link's distillation (optional beside `KeySource`)."""

    @property
    def statistics(self) -> LinkStatistics | None:
        """The figures so far (a snapshot); None until the first attempt has finished."""
        ...

    def statistics_after(self, attempts: int) -> LinkStatistics | None:
        """The figures as they stood after `attempts` attempts (1 or more), so the two ends of
        a link can be compared at the same point; None if not reached yet or no longer kept."""
        ...
