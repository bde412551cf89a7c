"""The qiskit qubit model: the density-matrix table and the exact Aer circuits agree."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, chisquare

from simulators.bb84 import (
    DecoyScheme,
    DetectionRecord,
    EveAction,
    LinkConfig,
    bb84_circuit,
    outcome_table,
    simulate,
)


def test_outcome_table_matches_bb84_expectations() -> None:
    e = 0.033
    table = outcome_table(e)
    for basis in (0, 1):
        for bit in (0, 1):
            # Matching bases: right with probability 1 − e_d; wrong basis: a coin flip.
            assert table[basis, bit, EveAction.NONE, basis] == pytest.approx(
                bit * (1 - e) + (1 - bit) * e
            )
            assert table[basis, bit, EveAction.NONE, 1 - basis] == pytest.approx(0.5)
            # Eve in the wrong basis randomises the bit even when Bob's basis matches.
            wrong = EveAction.MEASURE_X if basis == 0 else EveAction.MEASURE_Z
            assert table[basis, bit, wrong, basis] == pytest.approx(0.5)
    assert not table.flags.writeable


def test_circuit_has_eve_and_bob_registers() -> None:
    qc = bb84_circuit(1, 1, EveAction.MEASURE_Z, 0)
    assert [reg.name for reg in qc.cregs] == ["eve", "bob"]
    ops = [inst.operation.name for inst in qc.data]
    assert ops.count("measure") == 2
    assert "id" in ops


@pytest.mark.slow
def test_fast_and_exact_modes_agree_chi_square() -> None:
    """Outcome counts per configuration (Alice basis × bit × Eve × Bob basis): fast vs Aer."""
    config = LinkConfig(
        distance_km=0.0,
        detector_efficiency=0.6,
        misalignment=0.08,
        eve_intercept_fraction=0.5,
        decoy=DecoyScheme.NONE,
        basis_probability_z=0.5,
    )
    fast = simulate(config, 80_000, rng=np.random.default_rng(11))
    exact = simulate(config, 10_000, rng=np.random.default_rng(12), exact=True)

    def counts(r: DetectionRecord) -> np.ndarray:
        sel = r.photon
        a, b = r.alice_basis[sel].astype(np.int64), r.alice_bit[sel].astype(np.int64)
        e, c = r.eve_action[sel].astype(np.int64), r.bob_basis[sel].astype(np.int64)
        cell = (((a * 2 + b) * 3 + e) * 2 + c) * 2 + r.bob_bit[sel]
        return np.bincount(cell, minlength=48)

    fast_counts, exact_counts = counts(fast), counts(exact)
    assert exact_counts.sum() > 2000
    keep = (fast_counts + exact_counts) > 0
    _, p_value, _, _ = chi2_contingency(np.vstack([fast_counts[keep], exact_counts[keep]]))
    assert p_value > 1e-3

    # And the exact circuits against the qiskit table itself, configuration by configuration.
    table = outcome_table(config.misalignment).reshape(-1)
    per_config = exact_counts.reshape(24, 2)
    totals = per_config.sum(axis=1)
    used = totals >= 20
    expected = np.stack([totals * (1 - table), totals * table], axis=1)[used]
    _, p_gof = chisquare(per_config[used].ravel(), expected.ravel(), ddof=0)
    assert p_gof > 1e-3
