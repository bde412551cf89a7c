"""The fast channel sampler: gains, QBER, intercept-resend, PNS, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulators.bb84 import LinkConfig, pns_strategy, simulate


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def _expected(config: LinkConfig, mu: float) -> tuple[float, float]:
    """Ma et al. Eqs. (8)-(9) with the background-only click Y0·e^(−ημ)."""
    photon = -math.expm1(-config.transmittance * mu)
    background = config.dark_count_prob * math.exp(-config.transmittance * mu)
    gain = photon + background
    return gain, (config.misalignment * photon + 0.5 * background) / gain


@pytest.mark.parametrize(("distance", "misalignment"), [(10.0, 0.033), (50.0, 0.01), (100.0, 0.05)])
def test_gain_and_qber_per_class_within_3_sigma(distance: float, misalignment: float) -> None:
    config = LinkConfig(distance_km=distance, misalignment=misalignment)
    record = simulate(config, 2 * 10**8, rng=_rng())
    detected = record.detected_per_class()
    for k, cls in enumerate(config.pulse_classes):
        gain, qber = _expected(config, cls.intensity)
        sent = int(record.emitted_per_class[k])
        sigma_gain = math.sqrt(gain * (1 - gain) / sent)
        assert abs(detected[k] / sent - gain) <= 3 * sigma_gain
        sifted = int((record.sifted_mask() & (record.pulse_class == k)).sum())
        assert abs(record.qber(k) - qber) <= 3 * math.sqrt(qber * (1 - qber) / sifted)


def test_slots_are_increasing_and_counts_consistent() -> None:
    config = LinkConfig(distance_km=5.0)
    record = simulate(config, 10**6, rng=_rng())
    assert record.detections > 1000
    assert np.all(np.diff(record.slot) > 0)
    assert record.slot[0] >= 0
    assert record.slot[-1] < record.pulses
    assert int(record.emitted_per_class.sum()) == record.pulses
    assert np.all(record.detected_per_class() <= record.emitted_per_class)


def test_same_seed_same_block_and_different_seed_differs() -> None:
    config = LinkConfig(distance_km=25.0, eve_intercept_fraction=0.3)
    a = simulate(config, 10**7, rng=_rng(1))
    b = simulate(config, 10**7, rng=_rng(1))
    c = simulate(config, 10**7, rng=_rng(2))
    for name in ("slot", "pulse_class", "alice_basis", "alice_bit", "bob_basis", "bob_bit"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.alice_bit[:1000], c.alice_bit[:1000])


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_intercept_resend_raises_qber_by_a_quarter_of_the_fraction(fraction: float) -> None:
    config = LinkConfig(distance_km=10.0, eve_intercept_fraction=fraction)
    record = simulate(config, 5 * 10**7, rng=_rng(3))
    base_gain, base_qber = _expected(config, config.signal_intensity)
    photon_share = -math.expm1(-config.transmittance * config.signal_intensity) / base_gain
    # An intercepted photon is wrong with probability 1/4 + e_d/2 instead of e_d.
    expected = base_qber + fraction * photon_share * (0.25 - config.misalignment / 2)
    sifted = int((record.sifted_mask() & (record.pulse_class == 0)).sum())
    sigma = math.sqrt(expected * (1 - expected) / sifted)
    measured = record.qber(0)
    assert abs(measured - expected) <= 3 * sigma
    assert abs((measured - base_qber) - fraction / 4) <= 0.02


def test_pns_keeps_the_signal_gain_and_starves_the_decoy() -> None:
    honest = LinkConfig(distance_km=50.0)
    attacked = honest.with_(eve_pns=True)
    strategy = pns_strategy(attacked)
    assert strategy.single_forward == 0.0
    assert 0 < strategy.multi_forward < 1
    a = simulate(attacked, 10**9, rng=_rng(4))
    h = simulate(honest, 10**9, rng=_rng(5))
    gain_a = a.detected_per_class() / a.emitted_per_class
    gain_h = h.detected_per_class() / h.emitted_per_class
    assert gain_a[0] == pytest.approx(gain_h[0], rel=0.01)
    assert gain_a[1] < 0.5 * gain_h[1]
    signal = a.pulse_class == 0
    assert a.eve_knows[signal].mean() > 0.99
    assert a.qber(0) < 0.04  # no disturbance: the attack is invisible in the QBER


def test_pns_at_short_distance_must_forward_single_photons() -> None:
    strategy = pns_strategy(LinkConfig(distance_km=5.0, eve_pns=True))
    assert strategy.single_forward > 0.0
    assert strategy.multi_forward == 1.0


def test_basis_bias_is_respected() -> None:
    record = simulate(LinkConfig(distance_km=0.0, basis_probability_z=0.9), 10**6, rng=_rng())
    assert np.mean(record.alice_basis == 0) == pytest.approx(0.9, abs=0.01)
    assert np.mean(record.bob_basis == 0) == pytest.approx(0.9, abs=0.01)


def _reference_slots(rng: np.random.Generator, pulses: int, p: float) -> np.ndarray:
    """Bernoulli successes the plain numpy way (geometric gaps, summed), as the sampler's
    fast path must reproduce them draw for draw."""
    expected = pulses * p
    chunk = int(expected + 8.0 * math.sqrt(expected) + 16)
    parts = []
    last = -1
    while True:
        positions = last + np.cumsum(rng.geometric(p, size=chunk))
        if positions[-1] >= pulses:
            parts.append(positions[: np.searchsorted(positions, pulses)])
            return np.concatenate(parts)
        parts.append(positions)
        last = int(positions[-1])


@pytest.mark.parametrize(
    "config",
    [
        LinkConfig(distance_km=10.0),
        LinkConfig(distance_km=0.0, detector_efficiency=1.0, signal_intensity=2.0),
    ],
    ids=["geometric-by-inversion", "geometric-by-search"],
)
def test_slots_are_numpys_geometric_draws(config: LinkConfig) -> None:
    from simulators.bb84._channel import category_probabilities

    p = float(category_probabilities(config).sum())
    # numpy draws Geometric(p) by inversion below p = 1/3 and by search from there on.
    assert (p < 1 / 3) == (config.distance_km > 0)
    record = simulate(config, 3 * 10**6, rng=_rng(5))
    assert np.array_equal(record.slot, _reference_slots(_rng(5), 3 * 10**6, p))


def test_sampler_grows_its_arrays_without_changing_the_record() -> None:
    from simulators.bb84._channel import BlockSampler

    config = LinkConfig(distance_km=25.0, eve_intercept_fraction=0.2)
    expected = simulate(config, 2 * 10**6, rng=_rng(3))
    sampler = BlockSampler(config, 0)  # every chunk has to grow the arrays
    sampler.add(2 * 10**6, _rng(3))
    grown = sampler.record()
    for name in ("slot", "pulse_class", "alice_basis", "alice_bit", "bob_basis", "bob_bit"):
        assert np.array_equal(getattr(grown, name), getattr(expected, name))
    for name in ("eve_action", "photon", "eve_knows", "emitted_per_class"):
        assert np.array_equal(getattr(grown, name), getattr(expected, name))
