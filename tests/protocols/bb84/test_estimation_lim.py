"""The decoy-state bounds worked by hand on fixed counts: Lim, Curty, Walenta, Xu, Zbinden,
PRA 89, 022307 (2014), Eqs. (1)-(5), written out term by term (no call into the code under test
until the comparison), so a dropped finite-size term or a swapped n^+/n^- changes the result."""

from __future__ import annotations

import math

import pytest

from protocols.bb84._estimation import Counts, estimate, final_key_length

EPS_SEC = 1e-10
EPS_COR = 1e-15

# Signal, weak decoy and a faint (not empty) third intensity, so every term of Eqs. (2)-(5)
# contributes; a noisy detector (Y0 ~ 5e-4) keeps s_{Z,0} > 0 as well.
MU1, MU2, MU3 = 0.5, 0.15, 0.01
SENT = (5_000_000_000, 3_000_000_000, 2_000_000_000)  # p_k = 0.5, 0.3, 0.2
N_Z = (80_600_000, 15_300_000, 1_280_000)  # sifted Z detections per intensity
N_X = (5_040_000, 957_000, 80_000)  # sifted X detections per intensity
M_X = (148_800, 47_900, 20_800)  # X errors per intensity


def test_lim_bounds_by_hand() -> None:
    p1, p2, p3 = 0.5, 0.3, 0.2
    ln_term = math.log(21 / EPS_SEC)  # ln(21/ε_sec) = ln(2.1e11)
    assert ln_term == pytest.approx(26.0704, abs=1e-4)

    # τ_n = Σ_k p_k e^{-μ_k} μ_k^n / n!
    tau0 = p1 * math.exp(-MU1) + p2 * math.exp(-MU2) + p3 * math.exp(-MU3)
    tau1 = p1 * MU1 * math.exp(-MU1) + p2 * MU2 * math.exp(-MU2) + p3 * MU3 * math.exp(-MU3)
    assert tau0 == pytest.approx(0.7595, abs=1e-4)
    assert tau1 == pytest.approx(0.1923, abs=1e-4)

    def bounds(n1: float, n2: float, n3: float) -> tuple[float, float]:
        """(s_0, s_1) of Eqs. (2)-(3) for one basis, from its three detection counts."""
        delta = math.sqrt((n1 + n2 + n3) / 2 * ln_term)  # Hoeffding, on the basis total
        n1_up = math.exp(MU1) / p1 * (n1 + delta)
        n2_lo = math.exp(MU2) / p2 * (n2 - delta)
        n2_up = math.exp(MU2) / p2 * (n2 + delta)
        n3_lo = math.exp(MU3) / p3 * (n3 - delta)
        n3_up = math.exp(MU3) / p3 * (n3 + delta)
        s0 = tau0 * (MU2 * n3_lo - MU3 * n2_up) / (MU2 - MU3)  # Eq. (2)
        s1 = (
            tau1
            * MU1
            * (n2_lo - n3_up - (MU2**2 - MU3**2) / MU1**2 * (n1_up - s0 / tau0))
            / (MU1 * (MU2 - MU3) - MU2**2 + MU3**2)
        )  # Eq. (3)
        return s0, s1

    s_z0, s_z1 = bounds(*N_Z)
    s_x0, s_x1 = bounds(*N_X)
    # Numbers of the hand computation (δ_Z ≈ 35,592, δ_X ≈ 8,900).
    assert s_z0 == pytest.approx(1.8921e6, rel=1e-4)
    assert s_z1 == pytest.approx(5.8332e7, rel=1e-4)
    assert s_x1 == pytest.approx(3.5189e6, rel=1e-4)
    assert s_x0 == pytest.approx(8.926e4, rel=1e-3)

    # Eq. (5): single-photon X errors, upper bound.
    delta_m = math.sqrt(sum(M_X) / 2 * ln_term)
    m2_up = math.exp(MU2) / p2 * (M_X[1] + delta_m)
    m3_lo = math.exp(MU3) / p3 * (M_X[2] - delta_m)
    v_x1 = tau1 * (m2_up - m3_lo) / (MU2 - MU3)
    assert v_x1 == pytest.approx(1.3119e5, rel=1e-4)

    # Eq. (4): φ_Z = v/s + γ(ε_sec, v/s, s_{Z,1}, s_{X,1}).
    b = v_x1 / s_x1
    c, d = s_z1, s_x1
    gamma = math.sqrt(
        (c + d)
        * (1 - b)
        * b
        / (c * d * math.log(2))
        * math.log2((c + d) / (c * d * (1 - b) * b) * 21**2 / EPS_SEC**2)
    )
    phi = b + gamma
    assert b == pytest.approx(0.03728, abs=1e-5)
    assert gamma == pytest.approx(0.000954, abs=1e-6)
    assert phi == pytest.approx(0.038235, abs=1e-6)

    est = estimate(Counts(SENT, N_Z, N_X, M_X), (MU1, MU2, MU3), EPS_SEC)
    assert est.qber_x == pytest.approx(sum(M_X) / sum(N_X), rel=1e-12)
    assert est.vacuum_bits == pytest.approx(s_z0, rel=1e-9)
    assert est.single_photon_bits == pytest.approx(s_z1, rel=1e-9)
    assert est.phase_error == pytest.approx(phi, rel=1e-9)

    # Eq. (1), with λ_EC = 1.6e7 parity bits plus a 50-bit verification tag.
    leaked = 16_000_000 + 50
    h = -phi * math.log2(phi) - (1 - phi) * math.log2(1 - phi)
    ell = math.floor(
        s_z0 + s_z1 * (1 - h) - leaked - 6 * math.log2(21 / EPS_SEC) - math.log2(2 / EPS_COR)
    )
    assert ell == pytest.approx(3.0566e7, rel=1e-4)
    assert final_key_length(est, leaked, EPS_SEC, EPS_COR) == ell
