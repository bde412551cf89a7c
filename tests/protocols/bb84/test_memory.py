"""Whole blocks in memory: equal keys, the key length follows the bound, aborts with reasons."""

from __future__ import annotations

import math

import pytest

from protocols.bb84 import State, run_in_memory
from protocols.bb84._estimation import Estimate, final_key_length
from protocols.bb84.events import BlockStatistics
from tests.protocols.bb84._synthetic import DECOY, make_records
from tests.protocols.bb84.conftest import endpoints, lab_block, lab_config


def expected_length(stats: BlockStatistics, eps_sec: float, eps_cor: float) -> int:
    bounds = Estimate(
        stats.qber_x,
        stats.qber_by_class,
        stats.vacuum_bits,
        stats.single_photon_bits,
        stats.phase_error,
    )
    leaked = stats.ec_leaked_bits + stats.verification_tag_bits
    return final_key_length(bounds, leaked, eps_sec, eps_cor)


@pytest.mark.parametrize("reconciliation", ["cascade", "cascade-opt"])
def test_lab_block_distils_equal_keys(reconciliation: str) -> None:
    config = lab_config(reconciliation=reconciliation)
    alice, bob = endpoints(*lab_block(), config)
    result = run_in_memory(alice, bob)
    assert result.abort_reason is None
    assert not result.aborted
    assert result.alice is not None
    assert result.bob is not None
    assert result.alice.key == result.bob.key
    assert result.alice.auth_refill == result.bob.auth_refill
    assert result.alice.statistics == result.bob.statistics
    stats = result.alice.statistics
    assert stats.final_key_bits == expected_length(stats, config.eps_sec, config.eps_cor)
    assert len(result.alice.key) * 8 == stats.net_key_bits
    assert len(result.alice.auth_refill) * 8 == stats.auth_key_bits
    assert stats.net_key_bits == 8 * (stats.final_key_bits // 8) - stats.auth_key_bits
    assert abs(stats.qber_ec - 0.02) < 0.005
    assert stats.ec_efficiency > 1.0
    assert alice.state is State.DONE
    assert bob.state is State.DONE
    assert result.classical_bytes == result.bytes_alice_to_bob + result.bytes_bob_to_alice > 0
    # Sifting, disclosure/estimate, verification/PA, plus the Cascade rounds.
    assert result.round_trips == stats.ec_round_trips + 3


def test_decoy_block_follows_lim_bound() -> None:
    config = lab_config(intensities=DECOY)
    alice, bob = endpoints(*make_records(100_000_000, seed=2), config)
    result = run_in_memory(alice, bob)
    assert result.alice is not None
    assert result.bob is not None
    assert result.alice.key == result.bob.key
    stats = result.alice.statistics
    assert 0 < stats.single_photon_bits < stats.key_bits
    assert 0.02 < stats.phase_error < 0.2
    assert stats.final_key_bits == expected_length(stats, config.eps_sec, config.eps_cor)
    assert stats.ec_efficiency < 1.1


def test_tighter_eps_sec_gives_a_shorter_key() -> None:
    lengths = []
    for eps in (1e-6, 1e-12):
        alice, bob = endpoints(*lab_block(pulses=8_000_000), lab_config(eps_sec=eps))
        result = run_in_memory(alice, bob)
        assert result.alice is not None
        lengths.append(result.alice.statistics.final_key_bits)
    # Lim et al. (2014): ℓ changes by 6 log2(ratio) plus the change in the sampling terms.
    assert lengths[0] - lengths[1] >= 6 * math.log2(1e6) - 1


def test_intercept_resend_on_every_pulse_aborts() -> None:
    alice, bob = endpoints(*lab_block(intercept=1.0), lab_config())
    result = run_in_memory(alice, bob)
    assert result.aborted
    assert result.alice is None
    assert result.bob is None
    assert result.abort_reason is not None
    assert "QBER 0.2" in result.abort_reason
    assert alice.state is State.ABORTED
    assert bob.state is State.ABORTED
    assert alice.abort_reason == result.abort_reason
    assert bob.abort_reason == f"peer aborted: {result.abort_reason!r}"


def test_phase_error_bound_aborts_below_the_qber_limit() -> None:
    # 8 % QBER passes the 11 % limit, but the phase-error bound then leaves no key.
    alice, bob = endpoints(*lab_block(qber=0.08, pulses=400_000), lab_config())
    result = run_in_memory(alice, bob)
    assert result.abort_reason is not None
    assert result.abort_reason.startswith("no key")


def test_pns_regime_without_decoys_aborts() -> None:
    # Strong pulses over a lossy line: multi-photon pulses could explain every detection.
    records = make_records(2_000_000, seed=3, intensities=(0.8,), probabilities=(1.0,), eta=0.01)
    alice, bob = endpoints(*records, lab_config(intensities=(0.8,)))
    result = run_in_memory(alice, bob)
    assert result.abort_reason is not None
    assert "single-photon" in result.abort_reason


@pytest.mark.parametrize("pool_bytes", [0, 40])
def test_exhausted_auth_pool_aborts(pool_bytes: int) -> None:
    alice, bob = endpoints(*lab_block(), lab_config(), auth_key=bytes(pool_bytes))
    result = run_in_memory(alice, bob)
    assert result.abort_reason == "authentication key pool exhausted"
    # Whichever call ran out (Bob's start() for an empty pool, a later message otherwise), the
    # end that ran out is ABORTED and keeps the reason.
    aborted = bob if bob.abort_reason is not None else alice
    assert aborted.state is State.ABORTED
    assert aborted.abort_reason == "authentication key pool exhausted"


def test_bob_abort_reaches_alice_over_the_byte_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob discards the block (an LDPC frame that does not decode): his authenticated Abort is
    delivered, so Alice ends ABORTED too instead of waiting for a reply that never comes."""
    monkeypatch.setattr("protocols.bb84._alice.design_qber", lambda q, n: 0.001)
    monkeypatch.setattr("protocols.bb84._ldpc.MAX_STEPS", 2)
    alice, bob = endpoints(*lab_block(qber=0.03), lab_config(reconciliation="ldpc"))
    result = run_in_memory(alice, bob)
    assert result.abort_reason is not None
    assert result.abort_reason.startswith("LDPC frame error")
    assert bob.state is State.ABORTED
    assert alice.state is State.ABORTED
    assert bob.abort_reason == result.abort_reason
    assert alice.abort_reason == f"peer aborted: {result.abort_reason!r}"
    assert bob.data_to_send() == b""  # nothing left undelivered
    assert result.alice is None
    assert result.bob is None
