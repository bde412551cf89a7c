"""The weak-coherent-pulse channel: photon numbers, loss, dark counts, Eve, and Bob's clicks.

Only detected pulses are materialised. Each pulse slot is detected independently with the
mean probability Q̄ = Σ_k p_k·Q_k over the intensity classes k, so the detected slots form a
Bernoulli process (geometric gaps) and, given a detection, its class and photon category are
drawn with probability ∝ p_k × (that category's share of Q_k). Undetected pulses are only
counted (a multinomial over the classes), which is what makes 10⁹ pulses cheap.

Photon categories of a detection (the ground truth Alice and Bob never see):

- background: a dark count, Bob's bit is random (e0 = 1/2);
- photon: at least one photon from Alice's pulse arrived, Bob's bit follows the qubit model;
- the same two for pulses Eve split in a PNS attack, where she keeps a photon and so knows
  Alice's bit after the basis announcement.

Channel model as in Ma, Qi, Zhao, Lo (2005), Eqs. (5)-(9): a pulse of mean μ yields a photon
click with probability 1 − e^(−ημ), and a background-only click with Y0·e^(−ημ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from simulators.bb84._config import LinkConfig
from simulators.bb84._qubit import EveAction, outcome_table, run_exact

__all__ = ["DetectionRecord", "PnsStrategy", "category_probabilities", "pns_strategy", "simulate"]

_N_MAX = 64
"""Photon numbers summed explicitly in the PNS model (Poisson tail beyond is < 1e-60 for μ ≤ 2)."""

CAT_BACKGROUND = 0
CAT_PHOTON = 1
CAT_SPLIT_PHOTON = 2
CAT_SPLIT_BACKGROUND = 3
_N_CAT = 4


@dataclass(frozen=True, slots=True)
class PnsStrategy:
    """Eve's tuning of the PNS attack so that Bob's signal gain looks like the honest one.

    Eve sits at Alice's output, counts photons without disturbing the polarisation, and
    replaces the fibre with a lossless line to Bob's detector (transmittance η_Bob).
    """

    single_forward: float
    """Fraction of single-photon pulses forwarded (the rest are blocked)."""
    multi_forward: float
    """Fraction of split multi-photon pulses whose remaining photons she forwards."""


@dataclass(frozen=True, slots=True)
class DetectionRecord:
    """One block of pulses: what was sent per class, and every detection in time order.

    Alice knows `emitted_per_class` and, for each detection, her class, basis and bit; Bob knows
    the slots, his basis and his bit. `photon` and `eve_knows` are simulator ground truth.
    """

    pulses: int
    class_names: tuple[str, ...]
    intensities: tuple[float, ...]
    emitted_per_class: npt.NDArray[np.int64]
    slot: npt.NDArray[np.int64]
    """Index of each detected pulse in [0, pulses), increasing."""
    pulse_class: npt.NDArray[np.uint8]
    alice_basis: npt.NDArray[np.uint8]
    alice_bit: npt.NDArray[np.uint8] = field(repr=False)
    bob_basis: npt.NDArray[np.uint8]
    bob_bit: npt.NDArray[np.uint8] = field(repr=False)
    eve_action: npt.NDArray[np.uint8]
    """`EveAction` applied to the qubit (intercept-resend), 0 when none."""
    photon: npt.NDArray[np.bool_]
    """True when a photon (not a dark count) caused the click."""
    eve_knows: npt.NDArray[np.bool_]
    """True when Eve learns Alice's bit (PNS split, or intercept in the right basis)."""

    @property
    def detections(self) -> int:
        return int(self.slot.size)

    def detected_per_class(self) -> npt.NDArray[np.int64]:
        return np.bincount(self.pulse_class, minlength=len(self.class_names)).astype(np.int64)

    def sifted_mask(self) -> npt.NDArray[np.bool_]:
        mask: npt.NDArray[np.bool_] = self.alice_basis == self.bob_basis
        return mask

    def qber(self, pulse_class: int | None = None) -> float:
        """Error rate of the sifted bits (of one class, or all)."""
        mask = self.sifted_mask()
        if pulse_class is not None:
            mask &= self.pulse_class == pulse_class
        n = int(mask.sum())
        if n == 0:
            return float("nan")
        return float(np.count_nonzero(self.alice_bit[mask] != self.bob_bit[mask]) / n)


def _poisson(mu: float) -> npt.NDArray[np.float64]:
    """P(n photons) for n < _N_MAX in a pulse of mean μ (phase-randomised coherent state)."""
    n = np.arange(_N_MAX)
    if mu == 0.0:
        vacuum: npt.NDArray[np.float64] = (n == 0).astype(np.float64)
        return vacuum
    log_fact = np.array([math.lgamma(k + 1.0) for k in range(_N_MAX)])
    probs: npt.NDArray[np.float64] = np.exp(-mu + n * math.log(mu) - log_fact)
    return probs


def _split_terms(mu: float, eta_bob: float, y0: float) -> tuple[float, float, float]:
    """(P1, photon clicks of fully forwarded split pulses, their background-only clicks)."""
    p = _poisson(mu)
    n = np.arange(_N_MAX)
    miss = (1.0 - eta_bob) ** np.maximum(n - 1, 0)
    multi = n >= 2
    photon = float(np.sum(p[multi] * (1.0 - miss[multi])))
    background = float(np.sum(p[multi] * miss[multi]) * y0)
    return float(p[1]), photon, background


def pns_strategy(config: LinkConfig) -> PnsStrategy:
    """Choose Eve's forwarding so the signal gain equals the honest Q_μ (she cannot see decoys).

    With the lossless line, forwarding every split pulse usually gives more clicks than the
    honest fibre; she then forwards only a fraction and blocks all single photons. At short
    distances that is not enough and she must also forward single photons (which she cannot
    read), so the attack only pays at long distances, as Brassard et al. (PRL 85, 1330, 2000)
    showed.
    """
    mu = config.signal_intensity
    y0 = config.dark_count_prob
    eta_b = config.detector_efficiency
    target = 1.0 - (1.0 - y0) * math.exp(-config.transmittance * mu)
    p = _poisson(mu)
    p1, split_photon, split_bg = _split_terms(mu, eta_b, y0)
    p_multi = 1.0 - p[0] - p1
    base = y0 * (p[0] + p1)  # all single photons blocked, nothing split forwarded
    full_multi = split_photon + split_bg  # every split pulse forwarded
    if base + full_multi - y0 * p_multi >= target:
        # gain(t) = base + t·(split clicks) + (1−t)·Y0·P_multi  — linear in t.
        t = (target - base - y0 * p_multi) / (full_multi - y0 * p_multi)
        return PnsStrategy(single_forward=0.0, multi_forward=float(min(max(t, 0.0), 1.0)))
    single_gain = eta_b + (1.0 - eta_b) * y0
    s = (target - y0 * p[0] - full_multi - y0 * p1) / (p1 * (single_gain - y0))
    return PnsStrategy(single_forward=float(min(max(s, 0.0), 1.0)), multi_forward=1.0)


def category_probabilities(config: LinkConfig) -> npt.NDArray[np.float64]:
    """P(class k and a click of category c) per pulse slot, shape (classes, 4)."""
    classes = config.pulse_classes
    y0 = config.dark_count_prob
    eta = config.transmittance
    out = np.zeros((len(classes), _N_CAT))
    strategy = pns_strategy(config) if config.eve_pns else None
    for k, cls in enumerate(classes):
        mu = cls.intensity
        if strategy is None:
            # Ma et al. Eqs. (8)-(9): photon click 1 − e^(−ημ), background-only Y0·e^(−ημ).
            out[k, CAT_PHOTON] = -math.expm1(-eta * mu)
            out[k, CAT_BACKGROUND] = y0 * math.exp(-eta * mu)
        else:
            p = _poisson(mu)
            eta_b = config.detector_efficiency
            p1, split_photon, split_bg = _split_terms(mu, eta_b, y0)
            s, t = strategy.single_forward, strategy.multi_forward
            p_multi = max(1.0 - p[0] - p1, 0.0)
            out[k, CAT_PHOTON] = p1 * s * eta_b
            out[k, CAT_BACKGROUND] = y0 * (p[0] + p1 * (1.0 - s * eta_b))
            out[k, CAT_SPLIT_PHOTON] = t * split_photon
            out[k, CAT_SPLIT_BACKGROUND] = t * split_bg + (1.0 - t) * y0 * p_multi
        out[k] *= cls.probability
    return out


def _bernoulli_slots(rng: np.random.Generator, pulses: int, p: float) -> npt.NDArray[np.int64]:
    """Indices of the successes among `pulses` Bernoulli(p) trials, increasing.

    The gaps between successes are geometric, so only the successes are ever drawn.
    """
    if p <= 0.0 or pulses == 0:
        return np.zeros(0, dtype=np.int64)
    expected = pulses * p
    chunk = int(expected + 8.0 * math.sqrt(expected) + 16)
    parts: list[npt.NDArray[np.int64]] = []
    last = -1
    while True:
        positions = last + np.cumsum(rng.geometric(p, size=chunk))
        if positions[-1] >= pulses:
            parts.append(positions[: np.searchsorted(positions, pulses)])
            break
        parts.append(positions)
        last = int(positions[-1])
    return np.concatenate(parts).astype(np.int64, copy=False)


def _bin_index(edges: npt.NDArray[np.float64], u: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """`np.searchsorted(edges, u, side="right")` as uint8 for a short sorted `edges`: the
    number of edges <= each u, one vectorised comparison per distinct edge (cheaper than a
    binary search per element)."""
    values, counts = np.unique(edges, return_counts=True)
    out = np.zeros(u.shape[0], dtype=np.uint8)
    step = np.empty(u.shape[0], dtype=bool)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        np.greater_equal(u, value, out=step)
        out += step.view(np.uint8) * np.uint8(count) if count > 1 else step.view(np.uint8)
    return out


def _bits(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """n fair random bits (one random byte per 8 bits)."""
    return np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8))[:n]


def simulate(
    config: LinkConfig,
    pulses: int,
    *,
    rng: np.random.Generator,
    exact: bool = False,
) -> DetectionRecord:
    """Emit `pulses` weak coherent pulses through the link and return the detections.

    `exact=False` (FAST) draws Bob's bit from `outcome_table` (qiskit density matrices);
    `exact=True` runs one AerSimulator circuit per photon detection (small runs only).
    """
    if pulses < 0:
        raise ValueError("pulses must be non-negative")
    classes = config.pulse_classes
    joint = category_probabilities(config)
    per_class_click = joint.sum(axis=1)
    p_click = float(per_class_click.sum())
    slots = _bernoulli_slots(rng, pulses, p_click)
    n = int(slots.size)

    # Class and category of each detection: one uniform and a search in the cumulative table.
    cumulative = np.cumsum(joint.ravel()) / p_click
    cumulative[-1] = 1.0
    code = _bin_index(cumulative, rng.random(n))
    np.minimum(code, joint.size - 1, out=code)
    pulse_class = code // _N_CAT
    category = code % _N_CAT
    photon = (category == CAT_PHOTON) | (category == CAT_SPLIT_PHOTON)
    split = category >= CAT_SPLIT_PHOTON

    # One comparison per class: bincount would first widen the class codes to intp.
    detected = np.array(
        [np.count_nonzero(pulse_class == k) for k in range(len(classes))], dtype=np.int64
    )
    undetected_probs = np.array([c.probability for c in classes]) - per_class_click
    undetected_probs = np.clip(undetected_probs, 0.0, None)
    undetected = rng.multinomial(pulses - n, undetected_probs / undetected_probs.sum())
    emitted = detected + undetected.astype(np.int64)

    pz = config.basis_probability_z
    if pz == 0.5:
        alice_basis = _bits(rng, n)
        bob_basis = _bits(rng, n)
    else:
        alice_basis = (rng.random(n, dtype=np.float32) >= pz).astype(np.uint8)
        bob_basis = (rng.random(n, dtype=np.float32) >= pz).astype(np.uint8)
    alice_bit = _bits(rng, n)

    eve_action = np.zeros(n, dtype=np.uint8)
    if config.eve_intercept_fraction > 0.0:
        intercepted = rng.random(n, dtype=np.float32) < config.eve_intercept_fraction
        # Split pulses already reached Eve's memory; she measures the others she intercepts.
        intercepted &= photon & ~split
        eve_basis = _bits(rng, n)
        eve_action[intercepted] = 1 + eve_basis[intercepted]

    bob_bit = _bits(rng, n)  # background clicks: a random bit (e0 = 1/2)
    photon_idx = np.flatnonzero(photon)
    if exact:
        aer_seed = int(rng.integers(0, 2**31 - 1))
        bob_photon, _ = run_exact(
            alice_basis[photon_idx],
            alice_bit[photon_idx],
            eve_action[photon_idx],
            bob_basis[photon_idx],
            misalignment=config.misalignment,
            seed=aer_seed,
        )
        bob_bit[photon_idx] = bob_photon
    else:
        table = outcome_table(config.misalignment)
        # The table's flat (C-order) index, built in uint8 over all detections, then one gather
        # (four 4-D fancy-index gathers cost several times more).
        shape = table.shape
        flat = alice_basis * np.uint8(shape[1]) + alice_bit
        flat *= np.uint8(shape[2])
        flat += eve_action
        flat *= np.uint8(shape[3])
        flat += bob_basis
        p_one = np.take(table.ravel(), flat[photon_idx])
        bob_bit[photon_idx] = rng.random(photon_idx.size) < p_one

    eve_knows = split.copy()
    measured = eve_action != EveAction.NONE
    eve_knows[measured] |= (eve_action[measured] - 1) == alice_basis[measured]

    return DetectionRecord(
        pulses=pulses,
        class_names=tuple(c.name for c in classes),
        intensities=tuple(c.intensity for c in classes),
        emitted_per_class=emitted,
        slot=slots,
        pulse_class=pulse_class,
        alice_basis=alice_basis,
        alice_bit=alice_bit,
        bob_basis=bob_basis,
        bob_bit=bob_bit,
        eve_action=eve_action,
        photon=photon,
        eve_knows=eve_knows,
    )
