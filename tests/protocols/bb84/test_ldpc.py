"""LDPC reconciliation: rate choice, frames, efficiency, frame errors, and the whole chain."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from protocols.bb84 import State, run_in_memory
from protocols.bb84._codec import DecodeError, MessageType, ParityQuery, encode_payload
from protocols.bb84._ldpc import (
    MAX_STEPS,
    LdpcAlice,
    LdpcBob,
    LdpcFrameError,
    design_qber,
    frame_plan,
    syndrome_bits,
)
from protocols.errors import (
    AuthenticationError,
    RemoteProtocolError,
)
from tests.protocols.bb84.conftest import endpoints, lab_block, lab_config

SEED = bytes(range(16))


def h(q: float) -> float:
    return -q * math.log2(q) - (1 - q) * math.log2(1 - q)


def noisy_pair(n: int, q: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < q).astype(np.uint8)


def reconcile(alice: LdpcAlice, bob: LdpcBob) -> None:
    """Run Bob's increment requests against Alice until he is done (or raises)."""
    while (queries := bob.next_queries()) is not None:
        bob.apply_replies(alice.answer(*queries))


def test_frame_plan_covers_the_key_with_equal_frames() -> None:
    assert frame_plan(100, 256) == (1, 100)
    assert frame_plan(1 << 15, 1 << 15) == (1, 1 << 15)
    assert frame_plan((1 << 15) + 1, 1 << 15) == (2, (1 << 14) + 1)
    frames, columns = frame_plan(100_003, 1 << 14)
    assert frames == 7
    assert frames * columns >= 100_003 > frames * (columns - 1)


def test_rate_follows_the_design_error_rate() -> None:
    low, high = syndrome_bits(1 << 15, 0.01), syndrome_bits(1 << 15, 0.03)
    assert (1 << 15) * h(0.01) < low < high < (1 << 15) * 0.5
    assert syndrome_bits(1 << 15, 0.5) == 1 << 15  # capped: reveals everything, no more
    assert syndrome_bits(1000, 0.0) >= 1
    # The design rate sits above the estimate by one binomial deviation of the test sample.
    assert design_qber(0.02, 10_000) == pytest.approx(0.02 + math.sqrt(0.02 * 0.98 / 1e4))
    assert design_qber(0.0, 100) > 0


@pytest.mark.parametrize("q", [0.01, 0.02, 0.03])
def test_decoding_succeeds_at_low_error_rates_and_reports_efficiency(q: float) -> None:
    n = 2 * (1 << 15)
    alice_bits, bob_bits = noisy_pair(n, q, seed=int(q * 1000))
    design = design_qber(q, n)
    alice = LdpcAlice(alice_bits, design, SEED, 1 << 15)
    bob = LdpcBob(bob_bits, design, SEED, 1 << 15, alice.top_parities())
    assert alice.top_parities().shape[0] == 2 * syndrome_bits(1 << 15, design)
    reconcile(alice, bob)
    assert np.array_equal(bob.bits, alice_bits)
    assert bob.errors_corrected == int(np.count_nonzero(alice_bits != bob_bits))
    assert alice.disclosed == alice.top_parities().shape[0] + bob.queries
    assert bob.round_trips <= MAX_STEPS
    efficiency = alice.disclosed / (n * h(bob.errors_corrected / n))
    assert 1.0 < efficiency < 1.5


def test_shortened_last_frame_decodes() -> None:
    n = 20_001  # two frames of 10,001 and 10,000 bits: one shortened position
    alice_bits, bob_bits = noisy_pair(n, 0.02, seed=4)
    alice = LdpcAlice(alice_bits, 0.025, SEED, 1 << 14)
    bob = LdpcBob(bob_bits, 0.025, SEED, 1 << 14, alice.top_parities())
    reconcile(alice, bob)
    assert np.array_equal(bob.bits, alice_bits)


def test_increments_rescue_a_frame_above_the_design_rate() -> None:
    """Built for 1.8 % but the frame has 2 %: more syndrome rows, in a round trip or more."""
    alice_bits, bob_bits = noisy_pair(1 << 14, 0.02, seed=12)
    alice = LdpcAlice(alice_bits, 0.018, SEED, 1 << 14)
    bob = LdpcBob(bob_bits, 0.018, SEED, 1 << 14, alice.top_parities())
    reconcile(alice, bob)
    assert np.array_equal(bob.bits, alice_bits)
    assert 1 <= bob.round_trips <= MAX_STEPS
    assert bob.queries > 0
    assert alice.disclosed == alice.top_parities().shape[0] + bob.queries


def test_undecodable_frame_is_a_frame_error() -> None:
    n = 1 << 13
    alice_bits, bob_bits = noisy_pair(n, 0.08, seed=5)
    alice = LdpcAlice(alice_bits, 0.01, SEED, 1 << 14)  # code built for 1%, channel at 8%
    bob = LdpcBob(bob_bits, 0.01, SEED, 1 << 14, alice.top_parities())
    with pytest.raises(LdpcFrameError, match="1 of 1 frames"):
        reconcile(alice, bob)
    assert bob.round_trips == MAX_STEPS


def test_hostile_increment_requests_and_replies_are_decode_errors() -> None:
    alice_bits, bob_bits = noisy_pair(1 << 13, 0.05, seed=13)
    alice = LdpcAlice(alice_bits, 0.01, SEED, 1 << 14)
    bob = LdpcBob(bob_bits, 0.01, SEED, 1 << 14, alice.top_parities())
    passes, nodes = bob.next_queries() or (None, None)
    assert passes is not None
    assert nodes is not None
    with pytest.raises(DecodeError, match="pass 0"):
        alice.answer(passes + 1, nodes)
    with pytest.raises(DecodeError, match="beyond"):
        alice.answer(passes, nodes + np.uint32(1 << 30))
    with pytest.raises(DecodeError, match="does not match"):
        bob.apply_replies(alice.answer(passes, nodes)[:-1])


def test_wrong_syndrome_length_is_a_decode_error() -> None:
    alice_bits, bob_bits = noisy_pair(4096, 0.02, seed=6)
    syndrome = LdpcAlice(alice_bits, 0.02, SEED, 1 << 14).top_parities()
    for bad in (syndrome[:-1], np.concatenate([syndrome, syndrome[:1]])):
        with pytest.raises(DecodeError):
            LdpcBob(bob_bits, 0.02, SEED, 1 << 14, bad)


def test_whole_chain_in_memory_gives_equal_keys() -> None:
    alice, bob = endpoints(*lab_block(), lab_config(reconciliation="ldpc"))
    result = run_in_memory(alice, bob)
    assert result.abort_reason is None
    assert result.alice is not None
    assert result.bob is not None
    assert result.alice.key == result.bob.key
    assert len(result.alice.key) > 0
    stats = result.alice.statistics
    assert stats == result.bob.statistics
    n = stats.key_bits
    frames, columns = frame_plan(n, lab_config().ldpc_frame_bits)
    base = frames * syndrome_bits(columns, design_qber(stats.qber_x, stats.test_bits))
    assert stats.ec_leaked_bits >= base
    assert 1.0 < stats.ec_efficiency < 1.6
    # Sift, reply, test bits, estimate with syndromes, verify, PA, confirm, plus one query and
    # reply per increment.
    assert result.messages == 7 + 2 * stats.ec_round_trips
    assert stats.ec_round_trips <= MAX_STEPS


def test_whole_chain_is_deterministic() -> None:
    keys = []
    for _ in range(2):
        alice, bob = endpoints(*lab_block(seed=9), lab_config(reconciliation="ldpc"), seed=3)
        result = run_in_memory(alice, bob)
        assert result.alice is not None
        keys.append(result.alice.key)
    assert keys[0] == keys[1]


def test_frame_error_aborts_the_block_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A code built for far fewer errors than the block has: Bob discards, nobody gets key."""
    monkeypatch.setattr("protocols.bb84._alice.design_qber", lambda q, n: 0.001)
    monkeypatch.setattr("protocols.bb84._ldpc.MAX_STEPS", 2)
    alice, bob = endpoints(*lab_block(qber=0.03), lab_config(reconciliation="ldpc"))
    result = run_in_memory(alice, bob)
    assert result.aborted
    assert result.abort_reason is not None
    assert "LDPC frame error" in result.abort_reason
    assert result.alice is None
    assert result.bob is None
    assert bob.state is State.ABORTED
    # Bob's Abort is authenticated, delivered by run_in_memory, and tells Alice why.
    assert alice.state is State.ABORTED
    assert alice.abort_reason is not None
    assert alice.abort_reason.startswith("peer aborted: 'LDPC frame error")


def test_mismatched_syndrome_from_an_authentic_peer_is_a_remote_error() -> None:
    """Alice's frames differ from Bob's (config mismatch): the syndrome length is wrong."""
    record_a, record_b = lab_block()
    alice, _ = endpoints(record_a, record_b, lab_config(reconciliation="ldpc"))
    _, bob = endpoints(
        record_a, record_b, lab_config(reconciliation="ldpc", ldpc_frame_bits=1 << 12)
    )
    bob.start()
    alice.receive_data(bob.data_to_send())
    bob.receive_data(alice.data_to_send())
    alice.receive_data(bob.data_to_send())
    with pytest.raises(RemoteProtocolError, match="syndrome length"):
        bob.receive_data(alice.data_to_send())
    assert bob.state is State.ERROR


def test_hostile_parity_query_to_ldpc_alice_is_a_remote_error() -> None:
    alice, bob = endpoints(*lab_block(), lab_config(reconciliation="ldpc"))
    bob.start()
    alice.receive_data(bob.data_to_send())
    bob.receive_data(alice.data_to_send())
    alice.receive_data(bob.data_to_send())
    assert alice.state is State.RECONCILING
    payload = encode_payload(ParityQuery(np.ones(1, dtype=np.uint8), np.zeros(1, dtype=np.uint32)))
    frame = struct.pack(">BI", MessageType.PARITY_QUERY, len(payload)) + payload
    with pytest.raises(RemoteProtocolError, match="pass 0"):
        alice.receive_data(frame)
    assert alice.state is State.ERROR


def test_truncated_syndrome_message_is_rejected() -> None:
    """Alice's Estimate cut short and re-framed fails its tag before reaching the decoder."""
    alice, bob = endpoints(*lab_block(), lab_config(reconciliation="ldpc"))
    bob.start()
    alice.receive_data(bob.data_to_send())
    bob.receive_data(alice.data_to_send())
    alice.receive_data(bob.data_to_send())
    estimate = alice.data_to_send()
    kind, length = struct.unpack_from(">BI", estimate)
    assert kind == MessageType.ESTIMATE
    short = struct.pack(">BI", kind, length - 100) + estimate[5 : 5 + length - 100]
    with pytest.raises(AuthenticationError):
        bob.receive_data(short + estimate[5 + length :])
    assert bob.state is State.ERROR
