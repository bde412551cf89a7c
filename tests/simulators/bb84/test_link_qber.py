"""`BlockResult.qber` (the sim JSON's `qber`) has one meaning on every block: the error rate of
the sifted Z-basis key bits before error correction, recounted here from the simulated record."""

from __future__ import annotations

import re

import numpy as np

from simulators.bb84 import BlockResult, LinkConfig, run_block
from simulators.bb84._channel import DetectionRecord
from simulators.bb84._link import auth_material, block_rng, simulate_in_chunks

PULSES = 5 * 10**7


def _run(config: LinkConfig, seed: int) -> tuple[BlockResult, DetectionRecord]:
    """The block, and its record drawn again from the same stream (run_block simulates first)."""
    result = run_block(config, PULSES, rng=block_rng(seed, 0), auth_key=auth_material(seed, 0))
    return result, simulate_in_chunks(config, PULSES, rng=block_rng(seed, 0))


def _error_rate(record: DetectionRecord, basis: int) -> float:
    both = (record.alice_basis == basis) & (record.bob_basis == basis)
    return float(np.mean(record.alice_bit[both] != record.bob_bit[both]))


def test_accepted_block_reports_the_key_error_rate() -> None:
    result, record = _run(LinkConfig(distance_km=0.0, misalignment=0.01), seed=9)
    assert not result.aborted
    assert result.keys_equal
    # Error correction's count over the key bits is the true Z-basis error rate (basis 0 = Z).
    assert result.qber == _error_rate(record, 0)
    assert result.summary()["qber"] == result.qber


def test_aborted_block_reports_the_same_quantity() -> None:
    result, record = _run(LinkConfig(distance_km=10.0, eve_intercept_fraction=1.0), seed=3)
    assert result.aborted
    assert result.qber == _error_rate(record, 0)
    assert result.summary()["qber"] == result.qber
    # The abort reason quotes Alice's X-basis estimate: a different number, on the test bits.
    match = re.match(r"QBER (\d\.\d{4}) exceeds", str(result.abort_reason))
    assert match is not None
    assert float(match.group(1)) == round(_error_rate(record, 1), 4)
    assert float(match.group(1)) != round(result.qber, 4)
