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

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from simulators.bb84._config import LinkConfig, PulseClass
from simulators.bb84._qubit import outcome_table, run_exact

__all__ = [
    "BlockSampler",
    "DetectionRecord",
    "PnsStrategy",
    "category_probabilities",
    "pns_strategy",
    "simulate",
]

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


_GEOMETRIC_SEARCH_FROM = 0.333333333333333333333333
"""numpy draws Geometric(p) by inversion of one standard exponential below this p (and by a
sequential search from it on, which the fast path does not reproduce)."""


def _first_draw(pulses: int, p: float) -> int:
    """Geometric gaps drawn at a time for `pulses` trials: the mean count plus 8 sigma."""
    expected = pulses * p
    return int(expected + 8.0 * math.sqrt(expected) + 16)


def _bits(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """n fair random bits (one random byte per 8 bits)."""
    return np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8))[:n]


def _bits_into(rng: np.random.Generator, out: npt.NDArray[np.uint8]) -> None:
    """`out[:] = _bits(rng, len(out))`, unpacked straight into `out` (the same draws)."""
    _compiled().unpack_bits(np.frombuffer(rng.bytes((out.shape[0] + 7) // 8), np.uint8), out)


@functools.cache
def _compiled() -> ModuleType:
    """The numba kernels (compiled on first use, or loaded from the on-disk cache)."""
    from simulators.bb84 import _kernels

    return _kernels


@dataclass(frozen=True, slots=True)
class _Model:
    """What one configuration's sampler needs, computed once per block."""

    classes: tuple[PulseClass, ...]
    p_click: float
    """Q̄: probability that a pulse slot clicks."""
    edges: npt.NDArray[np.float64]
    """The distinct values of the cumulative P(class, category | click), flattened (the last
    is 1)..."""
    repeats: npt.NDArray[np.int64]
    """... and how many cells end at each (cells of probability 0 share their edge)."""
    undetected: npt.NDArray[np.float64]
    """P(class | no click)."""
    table: npt.NDArray[np.float64]
    """`outcome_table`, flattened in C order."""
    table_shape: npt.NDArray[np.int64]

    @classmethod
    def of(cls, config: LinkConfig) -> _Model:
        joint = category_probabilities(config)
        per_class_click = joint.sum(axis=1)
        p_click = float(per_class_click.sum())
        edges = np.cumsum(joint.ravel()) / p_click if p_click > 0 else np.ones(joint.size)
        edges[-1] = 1.0
        undetected = np.array([c.probability for c in config.pulse_classes]) - per_class_click
        undetected = np.clip(undetected, 0.0, None)
        table = outcome_table(config.misalignment)
        values, repeats = np.unique(edges, return_counts=True)
        return cls(
            classes=config.pulse_classes,
            p_click=p_click,
            edges=values,
            repeats=repeats.astype(np.int64),
            undetected=undetected / undetected.sum(),
            table=np.ascontiguousarray(table.ravel()),
            table_shape=np.array(table.shape, dtype=np.int64),
        )


_BATCH = 1 << 16
"""Random numbers drawn at a time into a reused buffer (the stream is the same as one draw)."""

_FIELDS_U8 = ("pulse_class", "alice_basis", "alice_bit", "bob_basis", "bob_bit", "eve_action")


class BlockSampler:
    """Samples a block chunk after chunk straight into its record's arrays (grown on demand).

    Every chunk draws the same random numbers, in the same order, as one `simulate` call of
    that chunk; compiled kernels turn them into record fields without temporaries.
    """

    def __init__(self, config: LinkConfig, capacity: int, *, exact: bool = False) -> None:
        self._config = config
        self._exact = exact
        self._model = _Model.of(config)
        self._size = 0
        self._pulses = 0
        self._emitted = np.zeros(len(self._model.classes), dtype=np.int64)
        self._arrays: dict[str, npt.NDArray[Any]] = {}
        self._scratch = np.empty(_BATCH, dtype=np.float64)
        self._scratch32 = np.empty(_BATCH, dtype=np.float32)
        self._allocate(max(capacity, 0))

    @staticmethod
    def capacity_for(config: LinkConfig, pulses: int, chunk: int) -> int:
        """Detections to allocate for `pulses` pulses sampled `chunk` at a time (no regrowth
        unless a chunk needs a second batch of gaps, a beyond-8-sigma event)."""
        p = _Model.of(config).p_click
        full, rest = divmod(pulses, chunk)
        return full * _first_draw(chunk, p) + (_first_draw(rest, p) if rest else 0)

    def _allocate(self, capacity: int) -> None:
        old = self._arrays
        new: dict[str, npt.NDArray[Any]] = {"slot": np.empty(capacity, dtype=np.int64)}
        for name in _FIELDS_U8:
            new[name] = np.empty(capacity, dtype=np.uint8)
        new["photon"] = np.empty(capacity, dtype=np.bool_)
        new["eve_knows"] = np.empty(capacity, dtype=np.bool_)
        for name, array in old.items():
            new[name][: self._size] = array[: self._size]
        self._arrays = new

    def _reserve(self, size: int) -> None:
        if size > self._arrays["slot"].shape[0]:
            self._allocate(max(size, self._arrays["slot"].shape[0] * 5 // 4))

    def _batches(self, n: int) -> Iterator[tuple[int, int]]:
        """(start, stop) of consecutive batches covering n draws."""
        for lo in range(0, n, _BATCH):
            yield lo, min(lo + _BATCH, n)

    def _slots(self, rng: np.random.Generator, pulses: int, offset: int) -> int:
        """Bernoulli(Q̄) successes among `pulses` slots, appended as offset + index; how many.

        The gaps between successes are geometric, so only the successes are ever drawn.
        """
        p = self._model.p_click
        if p <= 0.0 or pulses == 0:
            return 0
        chunk = _first_draw(pulses, p)
        start = self._size
        count = 0
        last = -1
        while True:
            self._reserve(start + count + chunk)
            slot = self._arrays["slot"]
            if p < _GEOMETRIC_SEARCH_FROM:
                # rng.geometric(p, chunk) computed from the very exponentials it would draw,
                # a batch at a time (all `chunk` of them are drawn, used or not).
                done = False
                for lo, hi in self._batches(chunk):
                    exp = rng.standard_exponential(out=self._scratch[: hi - lo])
                    if not done:
                        added, last, done = _compiled().geometric_positions(
                            exp, math.log1p(-p), last, pulses, slot, start + count, offset
                        )
                        count += int(added)
                        last = int(last)
                if done:
                    return count
            else:
                positions = last + np.cumsum(rng.geometric(p, size=chunk))
                done = bool(positions[-1] >= pulses)
                if done:
                    positions = positions[: np.searchsorted(positions, pulses)]
                slot[start + count : start + count + positions.shape[0]] = positions + offset
                count += int(positions.shape[0])
                if done:
                    return count
                last = int(positions[-1])

    def add(self, pulses: int, rng: np.random.Generator) -> None:
        """Emit the next `pulses` pulses through the link and append their detections."""
        if pulses < 0:
            raise ValueError("pulses must be non-negative")
        kernels = _compiled()
        model, config = self._model, self._config
        n = self._slots(rng, pulses, self._pulses)
        lo, hi = self._size, self._size + n  # `_slots` reserved room for them
        a = {name: array[lo:hi] for name, array in self._arrays.items()}

        # Class and category of each detection: one uniform and a search in the cumulative table.
        detected = np.zeros(len(model.classes), dtype=np.int64)
        split = a["eve_knows"]  # split pulses: Eve holds a photon (more knowledge added below)
        for b0, b1 in self._batches(n):
            kernels.classify(
                rng.random(out=self._scratch[: b1 - b0]),
                model.edges,
                model.repeats,
                _N_CAT * len(model.classes),
                a["pulse_class"][b0:b1],
                a["photon"][b0:b1],
                split[b0:b1],
                detected,
            )
        undetected = rng.multinomial(pulses - n, model.undetected)
        self._emitted += detected + undetected.astype(np.int64)

        pz = config.basis_probability_z
        for name in ("alice_basis", "bob_basis"):
            if pz == 0.5:
                _bits_into(rng, a[name])
            else:
                flags = a[name].view(np.bool_)
                for b0, b1 in self._batches(n):
                    uniform = rng.random(dtype=np.float32, out=self._scratch32[: b1 - b0])
                    np.greater_equal(uniform, pz, out=flags[b0:b1])
        _bits_into(rng, a["alice_bit"])

        eve_action = a["eve_action"]
        eve_action.fill(0)
        if config.eve_intercept_fraction > 0.0:
            intercepted = rng.random(n, dtype=np.float32) < config.eve_intercept_fraction
            # Split pulses already reached Eve's memory; she measures the others she intercepts.
            intercepted &= a["photon"] & ~split
            eve_basis = _bits(rng, n)
            eve_action[intercepted] = 1 + eve_basis[intercepted]

        bob_bit = a["bob_bit"]
        _bits_into(rng, bob_bit)  # background clicks: a random bit (e0 = 1/2)
        photons = int(np.count_nonzero(a["photon"]))
        if self._exact:
            photon_idx = np.flatnonzero(a["photon"])
            aer_seed = int(rng.integers(0, 2**31 - 1))
            bob_photon, _ = run_exact(
                a["alice_basis"][photon_idx],
                a["alice_bit"][photon_idx],
                eve_action[photon_idx],
                a["bob_basis"][photon_idx],
                misalignment=config.misalignment,
                seed=aer_seed,
            )
            bob_bit[photon_idx] = bob_photon
        else:
            # One uniform per photon detection, in order, a batch at a time.
            at = 0
            for b0, b1 in self._batches(photons):
                at = kernels.bob_bits(
                    model.table,
                    model.table_shape,
                    a["alice_basis"],
                    a["alice_bit"],
                    eve_action,
                    a["bob_basis"],
                    a["photon"],
                    rng.random(out=self._scratch[: b1 - b0]),
                    bob_bit,
                    at,
                )
        if config.eve_intercept_fraction > 0.0:
            kernels.eve_knowledge(split, eve_action, a["alice_basis"])
        self._size = hi
        self._pulses += pulses

    def record(self) -> DetectionRecord:
        """Everything sampled so far (views of the sampler's arrays)."""
        a = {name: array[: self._size] for name, array in self._arrays.items()}
        return DetectionRecord(
            pulses=self._pulses,
            class_names=tuple(c.name for c in self._model.classes),
            intensities=tuple(c.intensity for c in self._model.classes),
            emitted_per_class=self._emitted.copy(),
            slot=a["slot"],
            pulse_class=a["pulse_class"],
            alice_basis=a["alice_basis"],
            alice_bit=a["alice_bit"],
            bob_basis=a["bob_basis"],
            bob_bit=a["bob_bit"],
            eve_action=a["eve_action"],
            photon=a["photon"],
            eve_knows=a["eve_knows"],
        )


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
    sampler = BlockSampler(
        config, BlockSampler.capacity_for(config, pulses, max(pulses, 1)), exact=exact
    )
    sampler.add(pulses, rng)
    return sampler.record()
