"""Cascade: both variants correct every error at 1-5 % QBER; the optimised one leaks less."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.bb84 import _cascade_kernels as kernels
from protocols.bb84._cascade import (
    CascadeAlice,
    CascadeBob,
    CascadeQueryError,
    PassLayout,
    _frame_bytes,
    _frame_permutation,
    _words,
    block_sizes,
    build_layouts,
    build_pass,
    disclosed_top_parities,
    split_frames,
)
from protocols.bb84._estimation import binary_entropy
from protocols.errors import LocalProtocolError


def reconcile(n: int, qber: float, variant: str, seed: int) -> tuple[bool, float, int, int]:
    """Run Cascade on a random key pair; (all corrected, efficiency f, leaked, round trips)."""
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    errors = (rng.random(n) < qber).astype(np.uint8)
    cascade_seed = rng.bytes(16)
    layouts = [
        build_pass(n, k, cascade_seed, i) for i, k in enumerate(block_sizes(n, qber, variant))
    ]  # type: ignore[arg-type]
    oracle = CascadeAlice(alice, layouts)
    bob = CascadeBob(alice ^ errors, layouts, oracle.top_parities(), reuse=variant == "cascade-opt")
    while (queries := bob.next_queries()) is not None:
        bob.apply_replies(oracle.answer(*queries))
    assert bob.queries + disclosed_top_parities(layouts) == oracle.disclosed
    assert bob.errors_corrected == int(errors.sum()) or not np.array_equal(bob.bits, alice)
    shannon = n * binary_entropy(float(errors.mean()))
    return (
        bool(np.array_equal(bob.bits, alice)),
        oracle.disclosed / shannon,
        oracle.disclosed,
        bob.round_trips,
    )


@pytest.mark.parametrize("variant", ["cascade", "cascade-opt"])
@pytest.mark.parametrize("qber", [0.01, 0.02, 0.03, 0.05])
def test_corrects_every_error(variant: str, qber: float) -> None:
    results = [reconcile(10_000, qber, variant, seed) for seed in range(4)]
    assert all(ok for ok, *_ in results)
    efficiency = float(np.mean([f for _, f, *_ in results]))
    # Reported for the record (pytest -s); sanity range only, the targets live in benchmarks/.
    print(f"{variant} QBER {qber}: f = {efficiency:.3f}")
    assert 1.0 < efficiency < 1.6


@pytest.mark.parametrize("qber", [0.02, 0.04])
def test_optimised_variant_leaks_less(qber: float) -> None:
    original = [reconcile(10_000, qber, "cascade", seed)[2] for seed in range(6)]
    optimised = [reconcile(10_000, qber, "cascade-opt", seed)[2] for seed in range(6)]
    assert np.mean(optimised) < 0.97 * np.mean(original)


def test_block_sizes_follow_the_papers() -> None:
    # Brassard-Salvail: k1 = ceil(0.73/Q), doubling, 4 passes.
    assert block_sizes(100_000, 0.02, "cascade") == [37, 74, 148, 296]
    # Martinez-Mateo et al. option (8): α = log2(1/Q) - 0.5 = 5.14 -> 64, 2^ceil(8.57) = 512.
    assert block_sizes(100_000, 0.02, "cascade-opt") == [64, 512, 4096] + [50_000] * 11


def test_no_errors_needs_no_queries() -> None:
    key = np.random.default_rng(1).integers(0, 2, 5000, dtype=np.uint8)
    layouts = [
        build_pass(5000, k, b"s" * 16, i)
        for i, k in enumerate(block_sizes(5000, 0.01, "cascade-opt"))
    ]
    oracle = CascadeAlice(key, layouts)
    bob = CascadeBob(key, layouts, oracle.top_parities(), reuse=True)
    assert bob.next_queries() is None
    assert bob.round_trips == 0


def test_layouts_are_deterministic_in_the_seed() -> None:
    a = build_pass(1000, 64, b"x" * 16, 1)
    b = build_pass(1000, 64, b"x" * 16, 1)
    c = build_pass(1000, 64, b"y" * 16, 1)
    assert a.order is not None
    assert b.order is not None
    assert c.order is not None
    assert np.array_equal(a.order, b.order)
    assert not np.array_equal(a.order, c.order)
    assert np.array_equal(np.sort(a.order), np.arange(1000))


def test_oracle_rejects_unknown_pass_and_node() -> None:
    key = np.zeros(100, dtype=np.uint8)
    oracle = CascadeAlice(key, [build_pass(100, 10, b"z" * 16, 0)])
    with pytest.raises(CascadeQueryError):
        oracle.answer(np.array([1], np.uint8), np.array([1], np.uint32))
    with pytest.raises(CascadeQueryError):
        oracle.answer(np.array([0], np.uint8), np.array([10 * 32 + 1], np.uint32))
    with pytest.raises(CascadeQueryError):
        oracle.answer(np.array([0], np.uint8), np.array([32], np.uint32))


def test_bob_misuse_is_a_local_error() -> None:
    layouts = [build_pass(100, 10, b"z" * 16, 0)]
    with pytest.raises(LocalProtocolError):
        CascadeBob(np.zeros(100, np.uint8), layouts, np.zeros(3, np.uint8), reuse=True)
    bob = CascadeBob(np.zeros(100, np.uint8), layouts, np.zeros(10, np.uint8), reuse=True)
    assert bob.next_queries() is None
    with pytest.raises(LocalProtocolError):
        bob.apply_replies(np.zeros(1, np.uint8))


@pytest.mark.parametrize("variant", ["cascade", "cascade-opt"])
def test_frames_side_by_side(variant: str) -> None:
    n = 50_000
    frames = split_frames(n, 16_384)
    assert frames == [12_500] * 4
    rng = np.random.default_rng(11)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    errors = (rng.random(n) < 0.03).astype(np.uint8)
    layouts = build_layouts(frames, 0.03, variant, b"f" * 16)  # type: ignore[arg-type]
    # Blocks never straddle frames.
    for layout in layouts:
        assert len(layout.frame_blocks) == 4
        ends = np.cumsum(layout.frame_blocks)
        starts = layout.starts[np.concatenate(([0], ends[:-1]))]
        assert list(starts) == [0, 12_500, 25_000, 37_500]
    oracle = CascadeAlice(alice, layouts)
    tops = oracle.top_parities()
    assert tops.shape[0] == disclosed_top_parities(layouts)
    bob = CascadeBob(alice ^ errors, layouts, tops, reuse=variant == "cascade-opt")
    while (queries := bob.next_queries()) is not None:
        bob.apply_replies(oracle.answer(*queries))
    assert np.array_equal(bob.bits, alice)
    assert bob.errors_corrected == int(errors.sum())


def test_split_frames() -> None:
    assert split_frames(10, 100) == [10]
    assert split_frames(100, 30) == [25, 25, 25, 25]
    assert split_frames(101, 50) == [34, 34, 33]
    assert sum(split_frames(1_000_003, 1 << 17)) == 1_000_003


def test_inconsistent_parities_are_detected() -> None:
    rng = np.random.default_rng(4)
    n = 4096
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    errors = (rng.random(n) < 0.03).astype(np.uint8)
    layouts = build_layouts([n], 0.03, "cascade-opt", b"i" * 16)
    oracle = CascadeAlice(alice, layouts)
    bob = CascadeBob(alice ^ errors, layouts, oracle.top_parities(), reuse=True)

    def run_with_lies() -> None:
        while (queries := bob.next_queries()) is not None:
            bob.apply_replies(oracle.answer(*queries) ^ 1)  # every answer lies

    with pytest.raises(CascadeQueryError, match="twice"):
        run_with_lies()


def _direct_parity(ordered: np.ndarray, layout: PassLayout, block: int, lo: int, hi: int) -> int:
    """Parity of [lo, hi) of a block of the key in pass order (virtual bits are 0)."""
    start, size = int(layout.starts[block]), int(layout.sizes[block])
    return int(ordered[start + min(lo, size) : start + min(hi, size)].sum()) & 1


@pytest.mark.parametrize("frame_bits", [7, 1000])
def test_halves_are_stable_partitions_of_each_frame(frame_bits: int) -> None:
    frames = split_frames(5000, frame_bits)
    layouts = build_layouts(frames, 0.02, "cascade-opt", b"h" * 16)
    halves = [layout for layout in layouts if layout.halves is not None]
    assert len(halves) >= 11
    for layout in halves:
        assert layout.halves is not None
        key_mask = np.unpackbits(layout.halves, count=5000).view(bool)
        order = layout.pass_order()
        assert order is not None
        assert np.array_equal(np.sort(order), np.arange(5000))
        offset = 0
        for size in frames:
            mask = key_mask[offset : offset + size]
            expected = np.concatenate((np.flatnonzero(~mask), np.flatnonzero(mask))) + offset
            assert np.array_equal(order[offset : offset + size], expected)
            offset += size


@pytest.mark.parametrize("frame_bits", [7, 1000])
def test_answers_match_the_direct_parities(frame_bits: int) -> None:
    rng = np.random.default_rng(frame_bits)
    n = 5000
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    layouts = build_layouts(split_frames(n, frame_bits), 0.03, "cascade-opt", b"a" * 16)
    oracle = CascadeAlice(bits, layouts)
    passes, nodes, expected = [], [], []
    for index, layout in enumerate(layouts):
        order = layout.pass_order()
        ordered = bits if order is None else bits[order]
        for _ in range(200):
            block = int(rng.integers(layout.blocks))
            node = int(rng.integers(1, 2 * layout.padded))
            level = node.bit_length() - 1
            width = layout.padded >> level
            lo = (node - (1 << level)) * width
            passes.append(index)
            nodes.append(block * 2 * layout.padded + node)
            expected.append(_direct_parity(ordered, layout, block, lo, lo + width))
    answers = oracle.answer(np.array(passes, np.uint8), np.array(nodes, np.uint32))
    assert answers.tolist() == expected


@pytest.mark.parametrize("variant", ["cascade", "cascade-opt"])
def test_tiny_frames_with_one_sided_halves(variant: str) -> None:
    # Frames of 6-7 bits: some halves passes put a whole frame in one half (a single block).
    rng = np.random.default_rng(12)
    n = 700
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    errors = (rng.random(n) < 0.05).astype(np.uint8)
    layouts = build_layouts(split_frames(n, 7), 0.05, variant, b"t" * 16)  # type: ignore[arg-type]
    assert any(1 in layout.frame_blocks for layout in layouts[3:] if layout.halves is not None)
    oracle = CascadeAlice(alice, layouts)
    bob = CascadeBob(alice ^ errors, layouts, oracle.top_parities(), reuse=variant != "cascade")
    while (queries := bob.next_queries()) is not None:
        bob.apply_replies(oracle.answer(*queries))
    flipped = bob.bits ^ alice ^ errors
    assert not np.any(flipped & (1 - errors))  # every flip corrected a real error
    assert bob.errors_corrected == int(flipped.sum())
    if variant == "cascade-opt":  # 4-pass Cascade may leave even error patterns in 7-bit frames
        assert np.array_equal(bob.bits, alice)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_packed_range_parity_rank_and_select(data: bytes, draw: st.DataObject) -> None:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    mask_bits = np.unpackbits(np.frombuffer(bytes(reversed(data)), dtype=np.uint8))
    n = int(bits.shape[0])
    count = n // 64 + 1
    key = _words(np.packbits(bits), count)[None, :]
    mask = _words(np.packbits(mask_bits), count)[None, :]
    ones = np.concatenate(([0], np.cumsum(np.bitwise_count(mask[0, :-1])))).astype(np.int64)
    ones = ones[None, :]
    a = draw.draw(st.integers(0, n - 1))
    b = draw.draw(st.integers(a + 1, n))
    assert kernels._plain_parity(key, 0, a, b) == bits[a:b].sum() % 2
    for half in (0, 1):
        inside = mask_bits[a:b] == half
        flip = np.uint64(0) if half else kernels._ALL
        assert kernels._masked_parity(key, mask, 0, flip, a, b) == bits[a:b][inside].sum() % 2
        assert kernels._rank(mask, ones, 0, half, a) == np.count_nonzero(mask_bits[:a] == half)
        where = np.flatnonzero(mask_bits == half)
        if where.shape[0]:
            r = draw.draw(st.integers(0, where.shape[0] - 1))
            assert kernels._select(mask, ones, 0, half, r, 0, (n - 1) >> 6) == where[r]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000, 65_537, 131_072])
def test_compiled_randomness_is_numpy_randomness(n: int) -> None:
    # The pass orders and masks are public and must agree at both ends: the compiled code
    # replays numpy's SeedSequence, PCG64, permutation and bytes exactly (this fails if numpy
    # ever changes one of them).
    for seed, index, frame in (
        (b"\x00" * 16, 0, 0),
        (b"\x01" * 3, 1, 7),
        (b"\xff" * 16, 13, 2**31),
    ):
        rng_seed = [int.from_bytes(seed, "big"), index, frame]
        out = np.empty(n, dtype=np.int32)
        _frame_permutation(out, 7, seed, index, frame)
        assert np.array_equal(out, np.random.default_rng(rng_seed).permutation(n) + 7)
        assert _frame_bytes(n // 8, seed, index, frame).tobytes() == np.random.default_rng(
            rng_seed
        ).bytes(n // 8)
