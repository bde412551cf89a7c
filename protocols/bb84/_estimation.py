"""Parameter estimation and the finite-key length.

Decoy state: Lim, Curty, Walenta, Xu, Zbinden, "Concise security bounds for practical decoy-state
quantum key distribution", PRA 89, 022307 (2014), Eqs. (1)-(5): Hoeffding-corrected counts per
intensity class, lower bounds on vacuum and single-photon detections s_{Z,0}, s_{Z,1},
an upper bound on single-photon X errors and the phase error φ_Z via the random-sampling term
γ, and the key length

    ℓ = s_{Z,0} + s_{Z,1} (1 - h(φ_Z)) - λ_EC - 6 log2(21/ε_sec) - log2(2/ε_cor),

which adapts Tomamichel, Lim, Gisin, Renner, Nat. Commun. 3, 634 (2012) to decoy states (the
asymptotic structure is that of Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005)). Without decoys the
GLLP worst case (Gottesman, Lo, Lütkenhaus, Preskill 2004) is used: every multi-photon pulse
Alice sent may have been detected, so s_1 >= n - N·P(photons >= 2) - Hoeffding term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Counts", "Estimate", "binary_entropy", "estimate", "final_key_length"]


def binary_entropy(p: float) -> float:
    """h(p) in bits; 0 at the ends, 1 from p >= 1/2 on."""
    if p <= 0.0:
        return 0.0
    if p >= 0.5:
        return 1.0
    return -p * math.log2(p) - (1.0 - p) * math.log2(1.0 - p)


@dataclass(frozen=True, slots=True)
class Counts:
    """Sifted counts per intensity class (public once the test bits are disclosed)."""

    sent: tuple[int, ...]
    """Pulses Alice sent per class."""
    key: tuple[int, ...]
    """Sifted Z-basis detections per class (n_{Z,k})."""
    test: tuple[int, ...]
    """Sifted X-basis detections per class (n_{X,k})."""
    test_errors: tuple[int, ...]
    """Errors among them (m_{X,k})."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """What estimation concluded about one block."""

    qber_x: float
    """X-basis error rate over all classes."""
    qber_by_class: tuple[float, ...]
    """X-basis error rate per class (NaN without test bits)."""
    vacuum_bits: float
    """s_{Z,0}^l."""
    single_photon_bits: float
    """s_{Z,1}^l."""
    phase_error: float
    """φ_Z^u, capped at 1/2."""


def _hoeffding(total: float, eps: float) -> float:
    return math.sqrt(total / 2.0 * math.log(1.0 / eps))


def _gamma(a: float, b: float, c: float, d: float) -> float:
    # Lim et al. (2014), below Eq. (2): the sampling correction between X and Z single photons.
    if c <= 0.0 or d <= 0.0 or b >= 0.5:
        return 0.5
    # The formula degenerates at b = 0 (no X errors at all); evaluate it as if one error had
    # been seen, which is conservative and keeps a noiseless channel from being refused.
    b = max(b, 1.0 / d)
    if b >= 0.5:
        return 0.5
    inner = (c + d) / (c * d * (1.0 - b) * b) * (21.0**2) / (a**2)
    return math.sqrt((c + d) * (1.0 - b) * b / (c * d * math.log(2)) * math.log2(inner))


def _tau(n: int, mu: tuple[float, ...], p: NDArray[np.float64]) -> float:
    return float(sum(p[k] * math.exp(-m) * m**n / math.factorial(n) for k, m in enumerate(mu)))


def _decoy_bounds(
    counts: tuple[int, ...], mu: tuple[float, ...], p: NDArray[np.float64], eps: float
) -> tuple[float, float]:
    """(s_0^l, s_1^l) for one basis, Lim et al. Eqs. (2)-(3)."""
    total = float(sum(counts))
    delta = _hoeffding(total, eps)
    lower = [math.exp(m) / p[k] * (counts[k] - delta) for k, m in enumerate(mu)]
    upper = [math.exp(m) / p[k] * (counts[k] + delta) for k, m in enumerate(mu)]
    mu1, mu2, mu3 = mu
    tau0, tau1 = _tau(0, mu, p), _tau(1, mu, p)
    s0 = max(0.0, tau0 / (mu2 - mu3) * (mu2 * lower[2] - mu3 * upper[1]))
    den = mu1 * (mu2 - mu3) - mu2**2 + mu3**2
    s1 = (
        tau1
        * mu1
        / den
        * (lower[1] - upper[2] - (mu2**2 - mu3**2) / mu1**2 * (upper[0] - s0 / tau0))
    )
    return float(s0), float(max(0.0, s1))


def estimate(counts: Counts, mu: tuple[float, ...], eps_sec: float) -> Estimate:
    """Bounds on the single-photon content and phase error of the Z-basis key."""
    test = np.asarray(counts.test, dtype=np.float64)
    errors = np.asarray(counts.test_errors, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = tuple(float(v) for v in errors / test)
    qber_x = float(errors.sum() / test.sum()) if test.sum() else float("nan")
    eps = eps_sec / 21.0  # Lim et al. split ε_sec into 21 equal parts
    sent = np.asarray(counts.sent, dtype=np.float64)
    n_z = float(sum(counts.key))
    if len(mu) == 3:
        p = sent / sent.sum()
        s0_z, s1_z = _decoy_bounds(counts.key, mu, p, eps)
        _, s1_x = _decoy_bounds(counts.test, mu, p, eps)
        delta = _hoeffding(float(errors.sum()), eps)
        m_upper = [math.exp(m) / p[k] * (errors[k] + delta) for k, m in enumerate(mu)]
        m_lower = [math.exp(m) / p[k] * (errors[k] - delta) for k, m in enumerate(mu)]
        v1_x = _tau(1, mu, p) / (mu[1] - mu[2]) * (m_upper[1] - m_lower[2])
    else:
        # GLLP worst case: any multi-photon pulse may be among the detections (PNS attack).
        multi = float(sent.sum()) * (1.0 - math.exp(-mu[0]) * (1.0 + mu[0]))
        bound = multi + _hoeffding(float(sent.sum()), eps)
        s0_z = 0.0
        s1_z = max(0.0, n_z - bound)
        s1_x = max(0.0, float(test.sum()) - bound)
        v1_x = float(errors.sum())
    if s1_x <= 0.0 or s1_z <= 0.0:
        phase = 0.5
    else:
        ratio = max(0.0, v1_x / s1_x)
        phase = min(0.5, ratio + _gamma(eps_sec, ratio, s1_z, s1_x))
    return Estimate(qber_x, per_class, float(s0_z), float(s1_z), float(phase))


def final_key_length(est: Estimate, leaked_bits: float, eps_sec: float, eps_cor: float) -> int:
    """ℓ of Lim et al. (2014) Eq. (1), floored at 0; `leaked_bits` is λ_EC plus the
    verification tag."""
    value = (
        est.vacuum_bits
        + est.single_photon_bits * (1.0 - binary_entropy(est.phase_error))
        - leaked_bits
        - 6.0 * math.log2(21.0 / eps_sec)
        - math.log2(2.0 / eps_cor)
    )
    return max(0, math.floor(value))
