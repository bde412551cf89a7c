"""Asymptotic decoy-state BB84 key rate per pulse (GLLP), as in Ma, Qi, Zhao and Lo (2005).

References (equation numbers of arXiv:quant-ph/0503005v5, Ma, Qi, Zhao, Lo, "Practical decoy
state for quantum key distribution", Phys. Rev. A 72, 012326, 2005):

- Channel and detector model, Eqs. (5)-(10): transmittance η = η_Bob·10^(−αL/10),
  yields Y_n = Y0 + η_n with η_n = 1 − (1−η)^n, gain Q_μ = Y0 + 1 − e^(−ημ),
  error E_μ·Q_μ = e0·Y0 + e_detector·(1 − e^(−ημ)), e0 = 1/2.
- Key rate, Eq. (1) (GLLP: Gottesman, Lo, Lütkenhaus, Preskill, QIC 4, 325, 2004, with the
  decoy method of Lo, Ma, Chen, PRL 94, 230504, 2005):
  R ≥ q·{−Q_μ·f(E_μ)·H2(E_μ) + Q1·[1 − H2(e1)]}.
- Infinite decoys: Y1 and e1 known exactly (the "asymptotic" case of the paper).
- Vacuum + weak decoy: the lower bound Y1^L of Eq. (34) and the upper bound e1^U of Eq. (37).
- No decoys: GLLP with the worst-case multi-photon fraction Δ = P_multi/Q_μ,
  R ≥ q·{−Q_μ·f·H2(E_μ) + Q_μ·(1−Δ)·[1 − H2(E_μ/(1−Δ))]}.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = [
    "DecoyMethod",
    "DeviceParameters",
    "KeyRatePoint",
    "ObservedStatistics",
    "SinglePhotonEstimate",
    "binary_entropy",
    "estimate_single_photon",
    "key_rate",
    "max_distance_km",
    "optimal_key_rate",
    "secret_fraction",
]

E0 = 0.5
"""Error rate of a background (dark) count: a random bit."""


class DecoyMethod(enum.StrEnum):
    """How the single-photon yield and error rate are known to Alice and Bob."""

    INFINITE = "infinite"
    """Infinitely many decoys: Y1 and e1 are known exactly (the asymptotic limit)."""
    VACUUM_WEAK = "vacuum-weak"
    """One vacuum and one weak decoy (Ma, Qi, Zhao, Lo 2005, Eqs. 34 and 37)."""
    NONE = "none"
    """No decoys: every multi-photon pulse counts as fully known to Eve (GLLP)."""


@dataclass(frozen=True, slots=True)
class DeviceParameters:
    """Device and protocol parameters; the defaults are the GYS experiment used by Ma et al.

    GYS: C. Gobby, Z. L. Yuan, A. J. Shields, Appl. Phys. Lett. 84, 3762 (2004), as tabulated in
    Ma, Qi, Zhao, Lo (2005), Table I.
    """

    fiber_loss_db_per_km: float = 0.21
    """α, fibre attenuation (dB/km)."""
    detector_efficiency: float = 0.045
    """η_Bob, Bob's transmittance times detector efficiency."""
    dark_count_prob: float = 1.7e-6
    """Y0, background (dark count) probability per pulse."""
    misalignment: float = 0.033
    """e_detector, probability that a photon hits the wrong detector."""
    ec_efficiency: float = 1.22
    """f(E), error-correction inefficiency relative to the Shannon limit."""
    sifting_factor: float = 0.5
    """q, fraction of detections kept by sifting (1/2 for symmetric BB84)."""
    decoy_intensity: float = 0.1
    """ν, the weak decoy's mean photon number (vacuum + weak method; ν → 0 approaches the
    infinite-decoy limit, a larger ν tolerates statistical fluctuations better)."""

    def __post_init__(self) -> None:
        checks = {
            "fiber_loss_db_per_km": self.fiber_loss_db_per_km >= 0,
            "detector_efficiency": 0 < self.detector_efficiency <= 1,
            "dark_count_prob": 0 <= self.dark_count_prob < 1,
            "misalignment": 0 <= self.misalignment < 0.5,
            "ec_efficiency": self.ec_efficiency >= 1,
            "sifting_factor": 0 < self.sifting_factor <= 1,
            "decoy_intensity": self.decoy_intensity > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid device parameter(s): {', '.join(bad)}")

    def transmittance(self, distance_km: float) -> float:
        """η = η_Bob·10^(−αL/10), Ma et al. Eq. (5)."""
        return float(
            self.detector_efficiency * 10.0 ** (-self.fiber_loss_db_per_km * distance_km / 10.0)
        )

    def gain(self, mu: float, eta: float) -> float:
        """Q_μ = Y0 + 1 − e^(−ημ), Ma et al. Eq. (8)."""
        return self.dark_count_prob + 1.0 - math.exp(-eta * mu)

    def error_rate(self, mu: float, eta: float) -> float:
        """E_μ, Ma et al. Eq. (9)."""
        signal = 1.0 - math.exp(-eta * mu)
        return (E0 * self.dark_count_prob + self.misalignment * signal) / self.gain(mu, eta)


@dataclass(frozen=True, slots=True)
class ObservedStatistics:
    """Gains and error rates of the signal and the weak decoy, and the vacuum yield."""

    mu: float
    nu: float
    gain_signal: float
    error_signal: float
    gain_decoy: float
    error_decoy: float
    y0: float
    """Yield of the vacuum decoy (the background count rate Y0)."""


@dataclass(frozen=True, slots=True)
class SinglePhotonEstimate:
    """Bounds on the single-photon contribution obtained from decoy statistics."""

    y1_lower: float
    e1_upper: float
    q1_lower: float
    """Q1 = Y1·μ·e^(−μ), the single-photon gain of the signal."""


def binary_entropy(x: float) -> float:
    """H2(x) in bits; 0 at the ends."""
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return -x * math.log2(x) - (1.0 - x) * math.log2(1.0 - x)


def estimate_single_photon(stats: ObservedStatistics) -> SinglePhotonEstimate:
    """Vacuum + weak decoy bounds: Y1^L (Ma et al. Eq. 34) and e1^U (Eq. 37).

    Needs 0 < ν < μ (the paper's condition). A PNS attack shows up here: Eve's
    photon-number-dependent loss leaves the weak decoy's gain too low, so Y1^L collapses
    towards (or below) zero and e1^U grows.
    """
    mu, nu = stats.mu, stats.nu
    if not 0 < nu < mu:
        raise ValueError("the vacuum + weak bound needs 0 < ν < μ")
    y1 = (mu / (mu * nu - nu * nu)) * (
        stats.gain_decoy * math.exp(nu)
        - stats.gain_signal * math.exp(mu) * nu * nu / (mu * mu)
        - (mu * mu - nu * nu) / (mu * mu) * stats.y0
    )
    if y1 <= 0.0:
        return SinglePhotonEstimate(y1_lower=max(y1, 0.0), e1_upper=0.5, q1_lower=0.0)
    e1 = (stats.error_decoy * stats.gain_decoy * math.exp(nu) - E0 * stats.y0) / (y1 * nu)
    e1 = min(max(e1, 0.0), 0.5)
    return SinglePhotonEstimate(y1_lower=y1, e1_upper=e1, q1_lower=y1 * mu * math.exp(-mu))


def secret_fraction(
    gain: float, error: float, q1: float, e1: float, params: DeviceParameters
) -> float:
    """GLLP key rate per pulse, Eq. (1) of Ma et al.: q·{−Q·f·H2(E) + Q1·[1 − H2(e1)]}."""
    leak = gain * params.ec_efficiency * binary_entropy(error)
    return params.sifting_factor * (-leak + q1 * (1.0 - binary_entropy(e1)))


def key_rate(
    mu: float,
    distance_km: float,
    method: DecoyMethod,
    params: DeviceParameters | None = None,
) -> float:
    """Asymptotic secret key rate per emitted pulse at signal intensity μ (may be negative)."""
    p = params or DeviceParameters()
    eta = p.transmittance(distance_km)
    gain = p.gain(mu, eta)
    error = p.error_rate(mu, eta)
    if method is DecoyMethod.INFINITE:
        y1 = p.dark_count_prob + eta
        e1 = (E0 * p.dark_count_prob + p.misalignment * eta) / y1
        return secret_fraction(gain, error, y1 * mu * math.exp(-mu), e1, p)
    if method is DecoyMethod.VACUUM_WEAK:
        nu = p.decoy_intensity
        if nu >= mu:
            return -1.0
        est = estimate_single_photon(
            ObservedStatistics(
                mu=mu,
                nu=nu,
                gain_signal=gain,
                error_signal=error,
                gain_decoy=p.gain(nu, eta),
                error_decoy=p.error_rate(nu, eta),
                y0=p.dark_count_prob,
            )
        )
        return secret_fraction(gain, error, est.q1_lower, est.e1_upper, p)
    # No decoys: GLLP with Δ = P_multi/Q_μ, every multi-photon detection tagged.
    p_multi = 1.0 - (1.0 + mu) * math.exp(-mu)
    untagged = 1.0 - p_multi / gain
    if untagged <= 0.0:
        return -1.0
    e_untagged = min(error / untagged, 0.5)
    return secret_fraction(gain, error, gain * untagged, e_untagged, p)


@dataclass(frozen=True, slots=True)
class KeyRatePoint:
    """The optimum over μ at one distance."""

    distance_km: float
    mu: float
    key_rate_per_pulse: float
    """Secret bits per emitted pulse at the optimal μ; 0 where no key is possible."""


def optimal_key_rate(
    distance_km: float, method: DecoyMethod, params: DeviceParameters | None = None
) -> KeyRatePoint:
    """Maximise the key rate over μ: a coarse log grid, then a bounded scalar search.

    The no-decoy optimum sits at μ = O(η) and the decoy optimum at μ = O(1), so the grid spans
    1e-5..1.5 in log scale before refining (scipy.optimize.minimize_scalar, bounded).
    """
    p = params or DeviceParameters()
    grid = np.logspace(-5.0, math.log10(1.5), 240)
    values = [key_rate(float(m), distance_km, method, p) for m in grid]
    best = int(np.argmax(values))
    lo = math.log(grid[max(best - 1, 0)])
    hi = math.log(grid[min(best + 1, len(grid) - 1)])
    result = minimize_scalar(
        lambda lm: -key_rate(math.exp(lm), distance_km, method, p),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-10},
    )
    mu = math.exp(float(result.x))
    rate = -float(result.fun)
    if values[best] > rate:
        mu, rate = float(grid[best]), float(values[best])
    return KeyRatePoint(distance_km=distance_km, mu=mu, key_rate_per_pulse=max(rate, 0.0))


def max_distance_km(
    method: DecoyMethod, params: DeviceParameters | None = None, *, tolerance_km: float = 1e-3
) -> float:
    """The largest distance with a positive optimal key rate (bisection on the sign)."""
    p = params or DeviceParameters()

    def positive(d: float) -> bool:
        return optimal_key_rate(d, method, p).key_rate_per_pulse > 0.0

    lo, hi = 0.0, 400.0
    if not positive(lo):
        return 0.0
    while hi - lo > tolerance_km:
        mid = 0.5 * (lo + hi)
        if positive(mid):
            lo = mid
        else:
            hi = mid
    return lo
