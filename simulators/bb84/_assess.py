"""The asymptotic security verdict on one simulated block, and Eve's actual knowledge.

Alice and Bob only see gains and error rates. From them the key-rate model gives what they may
safely keep: the vacuum + weak decoy bound (Ma, Qi, Zhao, Lo 2005) with decoys, or, without
decoys, the naive rate of a system that treats every detection as a single photon (what
pre-decoy systems did, and what the PNS attack of Brassard et al., PRL 85, 1330, 2000 breaks).
The simulator also knows the ground truth — which sifted bits Eve knows — so it can say
whether the key the model accepted is actually secret.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.bb84._channel import DetectionRecord, _compiled
from simulators.bb84._config import DecoyScheme, LinkConfig
from simulators.keyrate import (
    DeviceParameters,
    ObservedStatistics,
    binary_entropy,
    estimate_single_photon,
    secret_fraction,
)

__all__ = ["LinkAssessment", "assess"]

_EC_EFFICIENCY = 1.22
"""f(E) assumed by the asymptotic verdict (the value of Ma et al.'s simulations)."""


@dataclass(frozen=True, slots=True)
class LinkAssessment:
    """What the model concludes from the public statistics, and whether that was right."""

    gains: tuple[float, ...]
    """Q_k: detections / pulses sent, per intensity class."""
    qbers: tuple[float, ...]
    """E_k: error rate of the sifted bits, per intensity class."""
    y1_lower: float | None
    """Decoy bound on the single-photon yield (None without decoys)."""
    e1_upper: float | None
    """Decoy bound on the single-photon error rate (None without decoys)."""
    key_rate_per_pulse: float
    """Secret bits per pulse the model allows (≤ 0 means abort)."""
    accepted: bool
    """The model would distil key from this block."""
    eve_known_fraction: float
    """Ground truth: fraction of sifted signal bits Eve knows."""
    secret_fraction_claimed: float
    """Key bits kept per sifted signal bit after error correction and privacy amplification."""
    insecure: bool
    """Accepted, yet Eve knows more sifted bits than privacy amplification removes."""


def _class_stats(record: DetectionRecord) -> tuple[list[float], list[float], float]:
    """Gains and sifted error rates per class, and the fraction of sifted signal bits Eve
    knows: one compiled pass over the detections."""
    classes = len(record.class_names)
    detected, sifted, errors, known = (
        _compiled()
        .class_statistics(
            classes,
            record.pulse_class,
            record.alice_basis,
            record.bob_basis,
            record.alice_bit,
            record.bob_bit,
            record.eve_knows,
        )
        .tolist()
    )
    gains: list[float] = []
    qbers: list[float] = []
    for k in range(classes):
        sent = int(record.emitted_per_class[k])
        gains.append(detected[k] / sent if sent else float("nan"))
        qbers.append(errors[k] / sifted[k] if sifted[k] else float("nan"))
    return gains, qbers, (known[0] / sifted[0] if sifted[0] else 0.0)


def assess(record: DetectionRecord, config: LinkConfig) -> LinkAssessment:
    """Apply the asymptotic key-rate model to the block's statistics; compare with the truth."""
    gains, qbers, known = _class_stats(record)
    q_signal, e_signal = gains[0], qbers[0]
    params = DeviceParameters(ec_efficiency=_EC_EFFICIENCY, sifting_factor=1.0)
    y1: float | None = None
    e1: float | None = None
    if config.decoy is DecoyScheme.VACUUM_WEAK:
        est = estimate_single_photon(
            ObservedStatistics(
                mu=config.signal_intensity,
                nu=config.decoy_intensity,
                gain_signal=q_signal,
                error_signal=e_signal,
                gain_decoy=gains[1],
                error_decoy=qbers[1],
                y0=gains[2],
            )
        )
        y1, e1 = est.y1_lower, est.e1_upper
        rate = secret_fraction(q_signal, e_signal, est.q1_lower, est.e1_upper, params)
    else:
        # No decoys, no multi-photon accounting: every detection counted as a single photon.
        rate = secret_fraction(q_signal, e_signal, q_signal, e_signal, params)
    accepted = bool(math.isfinite(rate) and rate > 0.0 and e_signal < 0.11)
    fraction = max(rate, 0.0) / q_signal if q_signal > 0 else 0.0
    # Privacy amplification keeps `fraction` of the sifted bits and leaks f·H(E) for error
    # correction; the key is secret only if what Eve knows fits in what was removed.
    leaked = _EC_EFFICIENCY * binary_entropy(e_signal) if math.isfinite(e_signal) else 1.0
    insecure = accepted and known + leaked > 1.0 - fraction + 1e-9
    return LinkAssessment(
        gains=tuple(float(g) for g in gains),
        qbers=tuple(float(q) for q in qbers),
        y1_lower=None if y1 is None else float(y1),
        e1_upper=None if e1 is None else float(e1),
        key_rate_per_pulse=float(rate),
        accepted=accepted,
        eve_known_fraction=known,
        secret_fraction_claimed=float(fraction),
        insecure=bool(insecure),
    )
