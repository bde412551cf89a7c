"""Events the post-processing endpoints hand to their caller (frozen, slotted dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BlockStatistics", "KeyDistilled"]


@dataclass(frozen=True, slots=True)
class BlockStatistics:
    """Public figures of one block (everything here was disclosed on the channel anyway)."""

    detections: int
    """Detected pulses Bob announced."""
    sifted_bits: int
    """Pulses where both bases matched (Z and X)."""
    key_bits: int
    """Sifted Z-basis bits, the raw key fed to error correction (n)."""
    test_bits: int
    """Sifted X-basis bits, all disclosed to bound the phase error."""
    qber_x: float
    """Error rate of the disclosed X-basis bits, all classes."""
    qber_by_class: tuple[float, ...]
    """X-basis error rate per intensity class (NaN where a class had no test bits)."""
    qber_ec: float
    """Z-basis error rate found by error correction (errors corrected / n)."""
    single_photon_bits: float
    """Lower bound s_{Z,1} on the key bits from single-photon pulses."""
    vacuum_bits: float
    """Lower bound s_{Z,0} on the key bits from vacuum pulses."""
    phase_error: float
    """Upper bound on the single-photon phase error rate φ_Z."""
    ec_leaked_bits: int
    """Parity bits Alice disclosed during error correction (λ_EC)."""
    ec_efficiency: float
    """f = ec_leaked_bits / (n · h(qber_ec)); NaN when no error was found."""
    ec_round_trips: int
    """Parity query/reply exchanges during error correction."""
    verification_tag_bits: int
    """Bits of the verification hash disclosed."""
    final_key_bits: int
    """ℓ, the length of the privacy-amplified key (finite-key bound)."""
    auth_key_bits: int
    """One-time authentication key consumed by this block's messages."""
    net_key_bits: int
    """ℓ minus the authentication key consumed: what the block adds to the key stock."""


@dataclass(frozen=True, slots=True)
class KeyDistilled:
    """Post-processing finished: both ends hold the same key (verified, privacy-amplified)."""

    key: bytes = field(repr=False)
    """The net secret key, `statistics.net_key_bits // 8` bytes (never printed)."""
    auth_refill: bytes = field(repr=False)
    """Key to return to the authentication pool: it replaces what this block consumed."""
    statistics: BlockStatistics
    """Public figures of the block."""
