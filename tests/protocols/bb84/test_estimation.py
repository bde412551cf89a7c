"""Parameter estimation: entropy, decoy bounds (Lim et al. 2014), GLLP without decoys."""

from __future__ import annotations

import math

import pytest

from protocols.bb84._estimation import Counts, binary_entropy, estimate, final_key_length

MU = (0.5, 0.1, 0.0)


def counts(pulses: float, qber: float, eta: float = 0.05, y0: float = 1e-5) -> Counts:
    """Expected counts of a symmetric-basis link (a quarter of detections per sifted basis)."""
    probs = (0.5, 0.3, 0.2)
    sent = tuple(int(pulses * p) for p in probs)
    gains = [1 - math.exp(-eta * m) + y0 for m in MU]
    errors = [(qber * (g - y0) + y0 / 2) / g for g in gains]
    key = tuple(int(s * g / 4) for s, g in zip(sent, gains, strict=True))
    test_errors = tuple(int(k * e) for k, e in zip(key, errors, strict=True))
    return Counts(sent, key, key, test_errors)


def test_binary_entropy() -> None:
    assert binary_entropy(0.0) == 0.0
    assert binary_entropy(0.5) == 1.0
    assert binary_entropy(0.7) == 1.0
    assert binary_entropy(0.11) == pytest.approx(0.4999, abs=1e-3)


def test_bounds_tighten_with_block_size() -> None:
    small = estimate(counts(1e8, 0.02), MU, 1e-10)
    large = estimate(counts(1e10, 0.02), MU, 1e-10)
    assert 0 < small.single_photon_bits < large.single_photon_bits
    assert large.phase_error < small.phase_error < 0.5
    # Asymptotically e1 ≈ QBER for an honest channel; the finite bound lies above it.
    assert 0.02 < large.phase_error < 0.04
    # Single-photon share of signal detections approaches Y1·μe^-μ/Q_μ (Ma et al. 2005).
    key = sum(counts(1e10, 0.02).key)
    assert 0.4 < large.single_photon_bits / key < 0.75


def test_high_error_rate_leaves_no_key() -> None:
    c = counts(1e9, 0.25)
    est = estimate(c, MU, 1e-10)
    assert est.qber_x == pytest.approx(0.25, abs=0.01)
    # Even error correction at the Shannon limit leaks more than the phase error leaves.
    shannon = sum(c.key) * binary_entropy(est.qber_x)
    assert final_key_length(est, shannon, 1e-10, 1e-15) == 0


def test_key_length_formula() -> None:
    est = estimate(counts(1e10, 0.02), MU, 1e-10)
    base = (
        est.vacuum_bits
        + est.single_photon_bits * (1 - binary_entropy(est.phase_error))
        - 6 * math.log2(21 / 1e-10)
        - math.log2(2 / 1e-15)
    )
    assert final_key_length(est, 1000, 1e-10, 1e-15) == math.floor(base - 1000)


def test_gllp_without_decoys() -> None:
    sent = (1_000_000,)
    honest = Counts(sent, (20_000,), (20_000,), (400,))
    est = estimate(honest, (0.1,), 1e-10)
    multi = 1_000_000 * (1 - math.exp(-0.1) * 1.1)
    assert est.vacuum_bits == 0.0
    assert est.single_photon_bits < 20_000 - multi
    # Strong pulses, few detections: multi-photon pulses explain everything.
    pns = estimate(Counts(sent, (2_000,), (2_000,), (40,)), (0.8,), 1e-10)
    assert pns.single_photon_bits == 0.0
    assert pns.phase_error == 0.5


def test_noiseless_channel_keeps_a_key() -> None:
    est = estimate(counts(1e10, 0.0, y0=1e-9), MU, 1e-10)
    assert est.qber_x == 0.0
    assert 0.0 < est.phase_error < 0.01
    assert final_key_length(est, 0, 1e-10, 1e-15) > 0
