"""LDPC matrices from a seed, syndromes, and the sum-product syndrome decoder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from protocols.bb84._ldpc_code import (
    COLUMN_DEGREES,
    build_matrix,
    decode_syndromes,
    extend_matrix,
    first_rows,
)


def dense(columns: int, checks: int, seed: bytes) -> np.ndarray:
    matrix = build_matrix(columns, checks, seed)
    h = np.zeros((checks, columns), dtype=np.uint8)
    h[matrix.edge_check, matrix.edge_var] = 1
    return h


def test_same_seed_same_matrix_and_different_seed_different_matrix() -> None:
    a, b = build_matrix(4096, 700, b"s" * 16), build_matrix(4096, 700, b"s" * 16)
    assert np.array_equal(a.edge_var, b.edge_var)
    assert np.array_equal(a.edge_check, b.edge_check)
    c = build_matrix(4096, 700, b"t" * 16)
    assert not np.array_equal(a.edge_var, c.edge_var)


def test_structure_degrees_and_no_repeated_edges() -> None:
    columns, checks = 8192, 1500
    matrix = build_matrix(columns, checks, bytes(16))
    pairs = matrix.edge_var * checks + matrix.edge_check
    assert np.unique(pairs).shape[0] == pairs.shape[0]
    assert np.all(np.diff(matrix.edge_check) >= 0)
    col_degree = np.bincount(matrix.edge_var, minlength=columns)
    row_degree = np.bincount(matrix.edge_check, minlength=checks)
    assert col_degree.min() >= 1
    assert row_degree.min() >= 1
    assert row_degree.max() - row_degree.min() <= max(d for d, _ in COLUMN_DEGREES)
    top = max(d for d, _ in COLUMN_DEGREES)
    share = np.mean(col_degree >= top - 1)  # a repeated edge may cost one
    assert share == pytest.approx(dict(COLUMN_DEGREES)[top], abs=0.02)
    # Degree-2 columns stay near half the checks (no degree-2 cycles forced); a dropped
    # repeated edge turns an occasional degree-3 column into a degree-2 one.
    assert np.count_nonzero(col_degree == 2) <= checks // 2 + columns // 100


def test_syndromes_equal_dense_product() -> None:
    columns, checks, seed = 600, 120, b"k" * 16
    matrix = build_matrix(columns, checks, seed)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, (4, columns), dtype=np.uint8)
    expected = (x.astype(np.int64) @ dense(columns, checks, seed).T.astype(np.int64)) % 2
    assert np.array_equal(matrix.syndromes(x), expected)


def test_bad_dimensions_are_rejected() -> None:
    with pytest.raises(ValueError, match="checks"):
        build_matrix(100, 0, bytes(16))
    with pytest.raises(ValueError, match="checks"):
        build_matrix(100, 101, bytes(16))


def test_decoder_recovers_frames_at_a_low_rate() -> None:
    """Far above the Shannon limit (f ≈ 2) every frame decodes to Alice's bits."""
    columns, q = 4096, 0.02
    checks = 1200  # h(0.02) ≈ 0.141: 1200 / 4096 ≈ 2.1 h(q)
    matrix = build_matrix(columns, checks, b"d" * 16)
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, (3, columns), dtype=np.uint8)
    y = x ^ (rng.random((3, columns)) < q).astype(np.uint8)
    llr = math.log((1 - q) / q)
    decoded, ok, messages = decode_syndromes(
        matrix, np.where(y == 0, llr, -llr), matrix.syndromes(x), 60
    )
    assert ok.all()
    assert np.array_equal(decoded, x)
    assert messages.shape == (0, matrix.edge_var.shape[0])


def test_decoder_reports_failure_beyond_capacity() -> None:
    """At twice the rate the channel allows no frame satisfies its syndrome."""
    columns, q = 2048, 0.1
    matrix = build_matrix(columns, 400, b"f" * 16)  # 400 < 0.47 · 2048 ≈ n·h(0.1)
    rng = np.random.default_rng(8)
    x = rng.integers(0, 2, (2, columns), dtype=np.uint8)
    y = x ^ (rng.random((2, columns)) < q).astype(np.uint8)
    llr = math.log((1 - q) / q)
    _, ok, messages = decode_syndromes(matrix, np.where(y == 0, llr, -llr), matrix.syndromes(x), 20)
    assert not ok.any()
    assert messages.shape == (2, matrix.edge_var.shape[0])
    assert np.isfinite(messages).all()


def test_warm_start_after_more_rows_finishes_the_frame() -> None:
    """Messages of a failed attempt seed the attempt with more checks (a syndrome increment)."""
    columns, q = 8192, 0.02
    # 1217 checks ≈ 1.05 n h(0.02): too few for these frames; 366 more rows are enough.
    full = extend_matrix(build_matrix(columns, 1217, b"w" * 16), 366, b"w" * 16)
    short = first_rows(full, 1217)
    rng = np.random.default_rng(9)
    x = rng.integers(0, 2, (2, columns), dtype=np.uint8)
    y = x ^ (rng.random((2, columns)) < q).astype(np.uint8)
    llr = math.log((1 - q) / q)
    priors = np.where(y == 0, llr, -llr)
    _, ok, messages = decode_syndromes(short, priors, short.syndromes(x), 20)
    assert not ok.any()
    decoded, ok, rest = decode_syndromes(full, priors, full.syndromes(x), 60, messages)
    assert ok.all()
    assert np.array_equal(decoded, x)
    assert rest.shape[0] == 0


def test_degree_two_columns_never_share_a_pair_of_checks() -> None:
    """Two degree-2 columns on the same two checks would be an undecodable weight-2 codeword."""
    columns, checks = 16384, 2400
    matrix = build_matrix(columns, checks, b"p" * 16)
    order = matrix.var_order
    by_var = matrix.edge_var[order]
    check_by_var = matrix.edge_check[order]
    degree = np.bincount(by_var, minlength=columns)
    starts = matrix.var_starts[degree == 2]
    pairs = np.sort(np.stack([check_by_var[starts], check_by_var[starts + 1]], axis=1), axis=1)
    assert pairs.shape[0] > checks // 3
    assert np.unique(pairs, axis=0).shape[0] == pairs.shape[0]


def test_extension_rows_nest_over_the_base_code() -> None:
    base = build_matrix(4096, 600, b"e" * 16)
    full = extend_matrix(base, 90, b"e" * 16)
    assert full.checks == 690
    assert np.array_equal(full.edge_var, extend_matrix(base, 90, b"e" * 16).edge_var)
    prefix = first_rows(full, 600)
    assert np.array_equal(prefix.edge_var, base.edge_var)
    assert np.array_equal(prefix.edge_check, base.edge_check)
    x = np.random.default_rng(1).integers(0, 2, (2, 4096), dtype=np.uint8)
    assert np.array_equal(full.syndromes(x)[:, :600], base.syndromes(x))
    assert np.array_equal(first_rows(full, 630).syndromes(x), full.syndromes(x)[:, :630])
    assert extend_matrix(base, 0, b"e" * 16) is base
    with pytest.raises(ValueError, match="checks"):
        first_rows(full, 0)
