"""One block through the channel and both ends' post-processing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import simulators.bb84._link as link_module
from qkdlink.errors import ConfigurationError
from simulators.bb84 import BlockResult, LinkConfig, default_block_pulses, run_block
from simulators.bb84._link import auth_material, block_rng, simulate_in_chunks


def test_chunks_are_stitched_in_time_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(link_module, "_CHUNK_PULSES", 300_000)
    calls: list[int] = []
    record = simulate_in_chunks(
        LinkConfig(distance_km=0.0), 1_000_000, rng=block_rng(1, 2), progress=calls.append
    )
    assert calls == [300_000, 300_000, 300_000, 100_000]
    assert record.pulses == 1_000_000
    assert int(record.emitted_per_class.sum()) == 1_000_000
    assert np.all(np.diff(record.slot) > 0)
    assert record.slot[-1] < 1_000_000
    assert record.slot[-1] >= 900_000  # the last chunk was offset, not overlaid on the first
    assert record.alice_bit.size == record.detections


def test_block_streams_and_auth_keys_are_seed_separated() -> None:
    a = block_rng(5, 1, 0).random(4)
    assert np.array_equal(a, block_rng(5, 1, 0).random(4))
    assert not np.array_equal(a, block_rng(5, 1, 1).random(4))
    assert auth_material(5, 1, 0) == auth_material(5, 1, 0)
    assert auth_material(5, 1, 0) != auth_material(6, 1, 0)
    assert len(auth_material(5, 1, 0)) == link_module.AUTH_POOL_BYTES


# --- the whole chain (protocols.bb84 post-processing wired in memory) -----------------------

SUMMARY_KEYS = {
    "pulses",
    "detections",
    "sifted_bits",
    "qber",
    "ec_leaked_bits",
    "ec_efficiency",
    "ec_frame_error",
    "final_key_bits",
    "secret_key_rate_per_pulse",
    "classical_bytes",
    "aborted",
    "abort_reason",
    "keys_equal",
}


def _block(config: LinkConfig, pulses: int, seed: int = 3) -> BlockResult:
    return run_block(config, pulses, rng=block_rng(seed, 0), auth_key=auth_material(seed, 0))


@pytest.fixture(scope="module")
def honest_10km() -> BlockResult:
    config = LinkConfig(distance_km=10.0)
    return _block(config, default_block_pulses(config))


@pytest.mark.slow
def test_honest_block_gives_identical_keys_at_both_ends(honest_10km: BlockResult) -> None:
    result = honest_10km
    assert not result.aborted
    assert result.keys_equal
    assert result.net_key_bits > 10_000
    assert len(result.key) * 8 == result.net_key_bits // 8 * 8
    assert abs(result.qber - 0.033) < 0.003
    assert 1.0 < result.ec_efficiency < 1.25
    assert result.classical_bytes > 0
    assert result.round_trips > 0
    summary = result.summary()
    assert summary.keys() >= SUMMARY_KEYS
    assert json.loads(json.dumps(summary)) == summary
    assert "key" not in summary
    assert result.key.hex() not in repr(result)


def test_full_intercept_resend_aborts_on_qber() -> None:
    result = _block(LinkConfig(distance_km=10.0, eve_intercept_fraction=1.0), 5 * 10**7)
    assert result.aborted
    assert result.abort_reason is not None
    assert "QBER" in result.abort_reason
    assert abs(result.qber - 0.25) < 0.03
    assert result.key == b""
    assert result.final_key_bits == 0


@pytest.mark.slow
def test_decoys_expose_pns_where_the_honest_link_makes_key() -> None:
    honest = LinkConfig(distance_km=25.0)
    pulses = default_block_pulses(honest)
    clean = _block(honest, pulses)
    attacked = _block(honest.with_(eve_pns=True), pulses)
    assert not clean.aborted
    assert clean.keys_equal
    assert attacked.aborted  # the decoy estimate leaves no single-photon key
    assert attacked.assessment.eve_known_fraction > 0.5
    assert attacked.assessment.y1_lower is not None
    assert clean.assessment.y1_lower is not None
    assert attacked.assessment.y1_lower < 0.5 * clean.assessment.y1_lower


def test_same_seed_same_key() -> None:
    config = LinkConfig(distance_km=0.0, misalignment=0.01)
    a = _block(config, 5 * 10**7, seed=9)
    b = _block(config, 5 * 10**7, seed=9)
    assert not a.aborted
    assert a.keys_equal
    assert a.key == b.key
    assert a.summary() == b.summary()


def test_unknown_error_correction_is_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="turbo"):
        run_block(
            LinkConfig(),
            1000,
            rng=block_rng(1),
            auth_key=auth_material(1),
            reconciliation="turbo",
        )


def test_warm_up_reaches_privacy_amplification() -> None:
    # It must run every stage, or the kernels it is meant to compile stay cold.
    from simulators.bb84 import warm_up

    result = warm_up()
    assert not result.aborted
    assert result.keys_equal
    assert result.net_key_bits > 0
    assert result.ec_leaked_bits > 0
