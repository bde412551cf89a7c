"""The simulated link's configuration: one frozen dataclass, validated when built."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from qkdlink.errors import ConfigurationError

if TYPE_CHECKING:
    from simulators.keyrate import DeviceParameters

__all__ = ["DecoyScheme", "LinkConfig", "PulseClass"]


class DecoyScheme(enum.StrEnum):
    """Which intensities Alice sends."""

    VACUUM_WEAK = "vacuum-weak"
    """Signal μ, weak decoy ν and vacuum (Ma, Qi, Zhao, Lo 2005)."""
    NONE = "none"
    """Signal only: the pre-decoy protocol, open to the PNS attack."""


@dataclass(frozen=True, slots=True)
class PulseClass:
    """One intensity class: its name, mean photon number and the probability Alice picks it."""

    name: str
    intensity: float
    probability: float


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """A weak-coherent-pulse BB84 link with decoys, fibre loss, detector noise and Eve.

    Defaults: GYS device figures as tabulated by Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005),
    Table I (α = 0.21 dB/km, η_Bob = 4.5%, Y0 = 1.7e-6, e_d = 3.3%), a 1 GHz source, μ = 0.48
    (their optimum), and settings that suit the finite-key post-processing (Lim et al., PRA 89,
    022307, 2014): ν = 0.2, 30% weak decoys, 20% vacuum, Z basis with probability 0.8.
    """

    pulse_rate_hz: float = 1e9
    """Pulses Alice emits per second (sets the link's time base and key rate in bits/s)."""
    distance_km: float = 50.0
    fiber_loss_db_per_km: float = 0.21
    detector_efficiency: float = 0.045
    """η_Bob: Bob's optics transmittance times detector efficiency."""
    dark_count_prob: float = 1.7e-6
    """Y0: probability of a background click per pulse."""
    misalignment: float = 0.033
    """e_d: probability that a photon arriving at Bob lands in the wrong detector."""
    decoy: DecoyScheme = DecoyScheme.VACUUM_WEAK
    signal_intensity: float = 0.48
    decoy_intensity: float = 0.2
    decoy_probability: float = 0.3
    vacuum_probability: float = 0.2
    basis_probability_z: float = 0.8
    """Probability that Alice (and, independently, Bob) picks the Z basis."""
    eve_intercept_fraction: float = 0.0
    """Fraction of pulses Eve measures in a random basis and resends (measure-and-prepare)."""
    eve_pns: bool = False
    """Photon-number-splitting attack: block single photons, split multi-photon pulses."""
    seed: int = field(default=0)

    def __post_init__(self) -> None:
        checks = {
            "pulse_rate_hz": self.pulse_rate_hz > 0 and math.isfinite(self.pulse_rate_hz),
            "distance_km": 0 <= self.distance_km < 1e4,
            "fiber_loss_db_per_km": 0 <= self.fiber_loss_db_per_km < 10,
            "detector_efficiency": 0 < self.detector_efficiency <= 1,
            "dark_count_prob": 0 <= self.dark_count_prob < 0.5,
            "misalignment": 0 <= self.misalignment < 0.5,
            "signal_intensity": 0 < self.signal_intensity <= 10,
            "decoy_intensity": 0 < self.decoy_intensity < self.signal_intensity,
            "decoy_probability": 0 <= self.decoy_probability < 1,
            "vacuum_probability": 0 <= self.vacuum_probability < 1,
            "basis_probability_z": 0 < self.basis_probability_z < 1,
            "eve_intercept_fraction": 0 <= self.eve_intercept_fraction <= 1,
            "seed": self.seed >= 0,
        }
        if self.decoy is DecoyScheme.VACUUM_WEAK:
            checks["decoy/vacuum probabilities"] = (
                self.decoy_probability > 0
                and self.vacuum_probability > 0
                and self.decoy_probability + self.vacuum_probability < 1
            )
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigurationError(f"invalid link parameter(s): {', '.join(bad)}")

    @property
    def transmittance(self) -> float:
        """η = η_Bob·10^(−αL/10) (Ma et al. Eq. 5)."""
        return float(
            self.detector_efficiency
            * 10.0 ** (-self.fiber_loss_db_per_km * self.distance_km / 10.0)
        )

    @property
    def channel_transmittance(self) -> float:
        """The fibre alone, 10^(−αL/10): what a PNS attacker replaces with a lossless line."""
        return float(10.0 ** (-self.fiber_loss_db_per_km * self.distance_km / 10.0))

    @property
    def pulse_classes(self) -> tuple[PulseClass, ...]:
        """The intensity classes in a fixed order (signal first)."""
        if self.decoy is DecoyScheme.NONE:
            return (PulseClass("signal", self.signal_intensity, 1.0),)
        p_signal = 1.0 - self.decoy_probability - self.vacuum_probability
        return (
            PulseClass("signal", self.signal_intensity, p_signal),
            PulseClass("decoy", self.decoy_intensity, self.decoy_probability),
            PulseClass("vacuum", 0.0, self.vacuum_probability),
        )

    def device_parameters(self) -> DeviceParameters:
        """This link's devices as the asymptotic key-rate model (`simulators.keyrate`) wants."""
        from simulators.keyrate import DeviceParameters  # scipy: loaded only when the model is used

        return DeviceParameters(
            fiber_loss_db_per_km=self.fiber_loss_db_per_km,
            detector_efficiency=self.detector_efficiency,
            dark_count_prob=self.dark_count_prob,
            misalignment=self.misalignment,
            decoy_intensity=self.decoy_intensity,
        )

    def with_(self, **changes: Any) -> LinkConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
