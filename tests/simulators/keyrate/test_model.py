"""The asymptotic key-rate model against Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005) (GYS figures)."""

from __future__ import annotations

import math

import pytest

from simulators.keyrate import (
    DecoyMethod,
    DeviceParameters,
    ObservedStatistics,
    binary_entropy,
    estimate_single_photon,
    key_rate,
    max_distance_km,
    optimal_key_rate,
)

# Maximum distances with the GYS parameters published by Ma et al. (2005): 142.05 km with
# infinite decoys and 140.55 km with vacuum + weak decoy (see docs/simulator.md for how they
# were sourced). The no-decoy value is this model's own GLLP result, pinned so that it cannot
# drift silently.
PUBLISHED_MAX_KM = {DecoyMethod.INFINITE: 142.05, DecoyMethod.VACUUM_WEAK: 140.55}
NO_DECOY_MAX_KM = 40.2


@pytest.mark.parametrize("method", list(PUBLISHED_MAX_KM))
def test_maximum_distance_matches_the_paper_within_1_km(method: DecoyMethod) -> None:
    assert abs(max_distance_km(method) - PUBLISHED_MAX_KM[method]) <= 1.0


def test_no_decoy_distance_is_far_shorter_and_pinned() -> None:
    distance = max_distance_km(DecoyMethod.NONE)
    assert abs(distance - NO_DECOY_MAX_KM) <= 1.0
    assert distance < max_distance_km(DecoyMethod.VACUUM_WEAK) / 3


def test_optimal_mu_is_order_one_with_decoys_and_order_eta_without() -> None:
    with_decoys = optimal_key_rate(10.0, DecoyMethod.INFINITE)
    without = optimal_key_rate(10.0, DecoyMethod.NONE)
    # Ma et al. report μ ≈ 0.48 as optimal for GYS; without decoys μ = O(η).
    assert with_decoys.mu == pytest.approx(0.48, abs=0.02)
    assert without.mu < 0.05
    assert with_decoys.key_rate_per_pulse > 10 * without.key_rate_per_pulse


def test_ordering_infinite_ge_vacuum_weak_ge_none() -> None:
    for distance in (0.0, 20.0, 60.0, 120.0):
        inf = optimal_key_rate(distance, DecoyMethod.INFINITE).key_rate_per_pulse
        vw = optimal_key_rate(distance, DecoyMethod.VACUUM_WEAK).key_rate_per_pulse
        none = optimal_key_rate(distance, DecoyMethod.NONE).key_rate_per_pulse
        assert inf >= vw >= none >= 0.0


def test_vacuum_weak_bound_is_below_the_true_single_photon_yield() -> None:
    p = DeviceParameters()
    eta = p.transmittance(50.0)
    mu, nu = 0.48, 0.1
    est = estimate_single_photon(
        ObservedStatistics(
            mu=mu,
            nu=nu,
            gain_signal=p.gain(mu, eta),
            error_signal=p.error_rate(mu, eta),
            gain_decoy=p.gain(nu, eta),
            error_decoy=p.error_rate(nu, eta),
            y0=p.dark_count_prob,
        )
    )
    y1_true = p.dark_count_prob + eta
    e1_true = (0.5 * p.dark_count_prob + p.misalignment * eta) / y1_true
    assert 0.9 * y1_true < est.y1_lower <= y1_true
    assert e1_true <= est.e1_upper < 1.2 * e1_true


def test_decoy_gain_deficit_collapses_the_single_photon_bound() -> None:
    # A PNS attacker tuned to the signal leaves the weak decoy with far too few clicks.
    p = DeviceParameters()
    eta = p.transmittance(50.0)
    mu, nu = 0.48, 0.1
    est = estimate_single_photon(
        ObservedStatistics(
            mu=mu,
            nu=nu,
            gain_signal=p.gain(mu, eta),
            error_signal=p.error_rate(mu, eta),
            gain_decoy=0.25 * p.gain(nu, eta),
            error_decoy=p.error_rate(nu, eta),
            y0=p.dark_count_prob,
        )
    )
    assert est.q1_lower == 0.0


def test_binary_entropy_and_invalid_parameters() -> None:
    assert binary_entropy(0.5) == 1.0
    assert binary_entropy(0.0) == binary_entropy(1.0) == 0.0
    assert math.isclose(binary_entropy(0.11), 0.4999, abs_tol=1e-3)
    with pytest.raises(ValueError, match="misalignment"):
        DeviceParameters(misalignment=0.6)
    assert key_rate(0.5, 500.0, DecoyMethod.INFINITE) < 0
