"""Authentication keyed from previously distilled key: block 1 starts from exactly the pre-shared
key one block consumes, its `auth_refill` is the only key block 2 can authenticate with."""

from __future__ import annotations

import pytest

from protocols.bb84 import (
    AlicePostProcessing,
    AliceRecord,
    AuthKeyPool,
    BobPostProcessing,
    BobRecord,
    PostProcessingConfig,
    TransferResult,
    run_in_memory,
)
from protocols.errors import AuthenticationError
from tests.protocols.bb84.conftest import AUTH_KEY, deterministic, lab_block, lab_config

BLOCK_AUTH_BYTES = 128
"""r (16 bytes) and one 16-byte pad for each of the seven tagged messages of a Cascade block."""


def _block(
    records: tuple[AliceRecord, BobRecord],
    config: PostProcessingConfig,
    pools: tuple[AuthKeyPool, AuthKeyPool],
    seed: int,
) -> TransferResult:
    alice = AlicePostProcessing(
        records[0], config=config, auth_pool=pools[0], random_source=deterministic(seed)
    )
    bob = BobPostProcessing(
        records[1], config=config, auth_pool=pools[1], random_source=deterministic(seed + 1)
    )
    return run_in_memory(alice, bob)


def test_second_block_authenticates_with_the_first_blocks_refill() -> None:
    config = lab_config()
    alice_pool = AuthKeyPool(AUTH_KEY[:BLOCK_AUTH_BYTES])
    bob_pool = AuthKeyPool(AUTH_KEY[:BLOCK_AUTH_BYTES])

    first = _block(lab_block(seed=5), config, (alice_pool, bob_pool), seed=5)
    assert first.alice is not None
    assert first.bob is not None
    assert first.alice.key == first.bob.key
    assert first.alice.auth_refill == first.bob.auth_refill
    assert alice_pool.consumed == bob_pool.consumed == BLOCK_AUTH_BYTES
    assert alice_pool.remaining == bob_pool.remaining == 0  # the pre-shared key is used up
    stats = first.alice.statistics
    assert stats.auth_key_bits == 8 * BLOCK_AUTH_BYTES
    assert len(first.alice.auth_refill) == BLOCK_AUTH_BYTES
    reused = first.alice.auth_refill in first.alice.key  # a bool: no key bytes in the report
    assert not reused  # set aside for authentication, not handed out as key too
    assert stats.net_key_bits == 8 * (stats.final_key_bits // 8) - 8 * BLOCK_AUTH_BYTES
    assert 8 * len(first.alice.key) == stats.net_key_bits

    alice_pool.refill(first.alice.auth_refill)
    bob_pool.refill(first.bob.auth_refill)
    second = _block(lab_block(seed=6), config, (alice_pool, bob_pool), seed=6)
    assert second.alice is not None
    assert second.bob is not None
    assert second.alice.key == second.bob.key
    assert second.alice.key != first.alice.key
    assert alice_pool.consumed == bob_pool.consumed == 2 * BLOCK_AUTH_BYTES
    assert alice_pool.remaining == bob_pool.remaining == 0
    stats = second.alice.statistics
    assert stats.auth_key_bits == 8 * BLOCK_AUTH_BYTES
    assert stats.net_key_bits == 8 * (stats.final_key_bits // 8) - 8 * BLOCK_AUTH_BYTES
    assert 8 * len(second.alice.key) == stats.net_key_bits

    # The refill keeps the stock level: a third block could run on second's refill.
    alice_pool.refill(second.alice.auth_refill)
    assert alice_pool.remaining == BLOCK_AUTH_BYTES


def test_second_block_fails_when_the_ends_refill_differently() -> None:
    config = lab_config()
    pools = (AuthKeyPool(AUTH_KEY[:BLOCK_AUTH_BYTES]), AuthKeyPool(AUTH_KEY[:BLOCK_AUTH_BYTES]))
    first = _block(lab_block(seed=5), config, pools, seed=5)
    assert first.alice is not None
    refill = first.alice.auth_refill
    pools[0].refill(refill)
    pools[1].refill(refill[:-1] + bytes([refill[-1] ^ 1]))  # one bit of one pad differs
    with pytest.raises(AuthenticationError):
        _block(lab_block(seed=6), config, pools, seed=6)
