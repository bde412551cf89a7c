"""ε_cor sets the verification tag, t = ceil(log2(1/ε_cor)) bits, and the key length pays for it
twice: ℓ = s_{Z,0} + s_{Z,1}(1 - h(φ_Z)) - λ_EC - t - 6 log2(21/ε_sec) - log2(2/ε_cor)."""

from __future__ import annotations

import math

from protocols.bb84 import BlockStatistics, run_in_memory
from tests.protocols.bb84.conftest import endpoints, lab_block, lab_config


def _length_by_hand(stats: BlockStatistics, tag_bits: int, eps_cor: float) -> int:
    phi = stats.phase_error
    h = -phi * math.log2(phi) - (1 - phi) * math.log2(1 - phi)
    return math.floor(
        stats.vacuum_bits
        + stats.single_photon_bits * (1 - h)
        - stats.ec_leaked_bits
        - tag_bits
        - 6 * math.log2(21 / 1e-10)
        - math.log2(2 / eps_cor)
    )


def test_eps_cor_sets_the_tag_and_the_key_length() -> None:
    records = lab_block(seed=5)
    default = run_in_memory(*endpoints(*records, lab_config(), seed=5))
    loose = run_in_memory(*endpoints(*records, lab_config(eps_cor=1e-6), seed=5))
    assert default.alice is not None
    assert loose.alice is not None
    assert loose.bob is not None
    assert loose.alice.key == loose.bob.key
    d, s = default.alice.statistics, loose.alice.statistics
    assert d.verification_tag_bits == 50  # ceil(log2(1e15)) = ceil(49.83)
    assert s.verification_tag_bits == 20  # ceil(log2(1e6)) = ceil(19.93)
    # Same records and seeds: the same Cascade run, only the tag and the ε_cor term differ.
    assert s.ec_leaked_bits == d.ec_leaked_bits
    assert s.single_photon_bits == d.single_photon_bits
    assert s.phase_error == d.phase_error
    assert d.final_key_bits == _length_by_hand(d, 50, 1e-15)
    assert s.final_key_bits == _length_by_hand(s, 20, 1e-6)
    # 30 tag bits and log2(1e9) ≈ 29.9 bits of the ε_cor term come back: 59 or 60 bits.
    assert s.final_key_bits - d.final_key_bits in (59, 60)
    # On the wire: Bob's Verify carries a 3-byte tag instead of 7 and a seed of n + t - 1 bits.
    n = d.key_bits
    seed_bytes = math.ceil((n + 49) / 8) - math.ceil((n + 19) / 8)
    assert default.bytes_bob_to_alice - loose.bytes_bob_to_alice == seed_bytes + 4
    assert default.bytes_alice_to_bob == loose.bytes_alice_to_bob
