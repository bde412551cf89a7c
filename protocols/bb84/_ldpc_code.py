"""LDPC parity-check matrices built from a shared seed, syndromes, and a syndrome decoder.

Construction: a random irregular code with a fixed column-degree distribution and check
degrees as equal as possible (the socket-permutation ensemble of Richardson & Urbanke, "Modern
Coding Theory", 2008, Sec. 3.3), drawn from a seeded generator so both ends build the same matrix
from the same public seed. Repeated (column, check) edges are dropped, which keeps the matrix
binary (a double edge would cancel over GF(2)).

Decoding: syndrome belief propagation (log-domain sum-product with the φ(x) = -ln tanh(x/2)
check update; Richardson & Urbanke Sec. 4.4) for the binary symmetric channel, as used for
QKD reconciliation by Elkouss, Leverrier, Alléaume and Boutros, "Efficient reconciliation
protocol for discrete-variable quantum key distribution", ISIT 2009: Bob decodes Alice's frame
from his own bits (prior LLR ±ln((1-q)/q)) towards the syndrome she sent. Every operation is
vectorised with numpy over the edges and over a batch of frames that share one matrix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "COLUMN_DEGREES",
    "KNOWN_BIT_LLR",
    "ParityCheckMatrix",
    "build_matrix",
    "decode_syndromes",
    "extend_matrix",
    "first_rows",
]

COLUMN_DEGREES: tuple[tuple[int, float], ...] = ((2, 0.15), (3, 0.55), (12, 0.3))
"""Column (variable-node) degrees and the fraction of columns with each degree: a few
high-degree columns (strongly protected, they anchor decoding) among mostly degree-2/3 ones,
chosen by trial at rates 0.6-0.9 and frames of 2^14-2^15 bits (see docs/simulator.md)."""

_LLR_CAP = 50.0
"""Messages are clipped to ±50: φ is then finite in float64 and a shortened (known) bit still
dominates every check it meets."""
_PHI_FLOOR = 1e-12
KNOWN_BIT_LLR = _LLR_CAP
"""Prior LLR of a bit both ends know is zero (a shortened position)."""


@dataclass(frozen=True, slots=True, eq=False)
class ParityCheckMatrix:
    """A sparse m×n binary matrix H stored as its edges, sorted by check (row)."""

    columns: int
    """n, bits per frame."""
    checks: int
    """m, syndrome bits per frame."""
    edge_var: NDArray[np.int64] = field(repr=False)
    """Column of each edge, edges sorted by check."""
    edge_check: NDArray[np.int64] = field(repr=False)
    """Check of each edge (non-decreasing)."""
    check_starts: NDArray[np.int64] = field(repr=False)
    """First edge of each check (every check has at least one edge)."""
    var_order: NDArray[np.int64] = field(repr=False)
    """Edge permutation that sorts the edges by column."""
    var_starts: NDArray[np.int64] = field(repr=False)
    """First edge (in `var_order`) of each column."""

    def syndromes(self, frames: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """H·x over GF(2) for each row x of `frames` (shape frames × n → frames × m)."""
        bits = frames[:, self.edge_var]
        return np.bitwise_xor.reduceat(bits, self.check_starts, axis=1).astype(np.uint8)


def _generator(seed: bytes, columns: int, checks: int) -> np.random.Generator:
    digest = hashlib.sha256(b"qkdlink-ldpc" + seed + f"{columns}:{checks}".encode()).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint32))


def build_matrix(columns: int, checks: int, seed: bytes) -> ParityCheckMatrix:
    """The code both ends use for frames of `columns` bits and `checks` syndrome bits.

    Deterministic in (columns, checks, seed). Column degrees follow `COLUMN_DEGREES` (capped at
    `checks`, degree-2 columns at checks/2); degree-2 columns form a cycle-free staircase, the
    other edges go to checks in a seeded random order, round-robin so check degrees stay
    nearly equal.
    """
    if not 0 < checks <= columns:
        raise ValueError("need 0 < checks <= columns")
    rng = _generator(seed, columns, checks)
    counts = [round(frac * columns) for _, frac in COLUMN_DEGREES]
    for i, (degree, _) in enumerate(COLUMN_DEGREES):
        if degree == 2:
            counts[i] = min(counts[i], checks // 2)
    counts[1] += columns - sum(counts)
    degrees = rng.permutation(
        np.repeat(np.array([min(d, checks) for d, _ in COLUMN_DEGREES], dtype=np.int64), counts)
    )
    # Degree-2 columns form a staircase over a random order of the checks (column i joins
    # checks p[i] and p[i+1], as in irregular repeat-accumulate codes): their subgraph is a
    # path, so they contain no cycle, hence no codeword among themselves. Two degree-2 columns
    # on the same pair of checks would be a weight-2 codeword that no decoder can resolve.
    chain = rng.permutation(checks)
    pair_cols = np.flatnonzero(degrees == 2)
    pair_var = np.repeat(pair_cols, 2)
    steps = np.arange(pair_cols.shape[0])
    pair_check = np.stack([chain[steps], chain[steps + 1]], axis=1).reshape(-1)
    # The other columns' edges go round-robin over the checks, least loaded first.
    loaded = np.bincount(pair_check, minlength=checks)
    order = rng.permutation(checks)
    order = order[np.argsort(loaded[order], kind="stable")]
    sockets = np.repeat(np.flatnonzero(degrees != 2), degrees[degrees != 2])
    check = np.empty(sockets.shape[0], dtype=np.int64)
    check[rng.permutation(sockets.shape[0])] = order[np.arange(sockets.shape[0]) % checks]
    sockets = np.concatenate([pair_var, sockets])
    check = np.concatenate([pair_check, check])
    return _from_edges(columns, checks, sockets, check)


def _from_edges(
    columns: int, checks: int, var: NDArray[np.int64], check: NDArray[np.int64]
) -> ParityCheckMatrix:
    """The matrix with these edges; repeated (column, check) pairs are dropped (over GF(2)
    two edges would cancel anyway)."""
    key = np.unique(var * checks + check)
    edge_var, edge_check = key // checks, key % checks
    by_check = np.lexsort((edge_var, edge_check))
    edge_var, edge_check = edge_var[by_check], edge_check[by_check]
    check_starts = np.searchsorted(edge_check, np.arange(checks))
    if np.unique(edge_check).shape[0] != checks:  # pragma: no cover - needs checks > edges
        raise ValueError("a check without edges")
    var_order = np.argsort(edge_var, kind="stable")
    var_starts = np.searchsorted(edge_var[var_order], np.arange(columns))
    return ParityCheckMatrix(
        columns, checks, edge_var, edge_check, check_starts, var_order, var_starts
    )


def extend_matrix(base: ParityCheckMatrix, rows: int, seed: bytes) -> ParityCheckMatrix:
    """`base` with `rows` more checks appended, each on a third as many random columns as a
    base check has; deterministic in (base shape, rows, seed).

    With `first_rows` the extended matrix gives nested codes: a syndrome can be revealed in
    increments (incremental redundancy) and every prefix of rows is a code of its own.
    """
    if rows <= 0:
        return base
    # A third of the base check degree: a check over fewer bits is more reliable, and at
    # 1-3 % QBER this degree rescued the most frames per revealed bit in trials (1x-8x tried).
    degree = max(2, round(base.edge_var.shape[0] / base.checks / 3))
    rng = _generator(seed + b"extension", base.columns, base.checks + rows)
    var = rng.integers(0, base.columns, size=rows * degree, dtype=np.int64)
    check = np.repeat(np.arange(base.checks, base.checks + rows, dtype=np.int64), degree)
    return _from_edges(
        base.columns,
        base.checks + rows,
        np.concatenate([base.edge_var, var]),
        np.concatenate([base.edge_check, check]),
    )


def first_rows(matrix: ParityCheckMatrix, checks: int) -> ParityCheckMatrix:
    """The code made of the first `checks` rows of `matrix`."""
    if checks == matrix.checks:
        return matrix
    if not 0 < checks < matrix.checks:
        raise ValueError("need 0 < checks <= matrix.checks")
    end = int(matrix.check_starts[checks])
    return _from_edges(matrix.columns, checks, matrix.edge_var[:end], matrix.edge_check[:end])


def _phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """φ(x) = -ln tanh(x/2) = ln(1 + 2/(e^x - 1)), its own inverse on x > 0."""
    x = np.clip(x, _PHI_FLOOR, _LLR_CAP)
    return np.log1p(2.0 / np.expm1(x))


def decode_syndromes(
    matrix: ParityCheckMatrix,
    priors: NDArray[np.float64],
    syndromes: NDArray[np.uint8],
    max_iterations: int,
    messages: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.float64]]:
    """Sum-product decoding of a batch of frames towards their syndromes.

    `priors[f, i]` is the LLR ln P(x_i = 0)/P(x_i = 1) of bit i of frame f. `messages`, if
    given, are check-to-bit messages of an earlier attempt on the first edges of `matrix` (a
    prefix of its rows): decoding resumes from them (a warm start after a syndrome increment).
    Returns the decoded frames, which frames satisfy their syndrome, and the messages of the
    frames that do not, in frame order. A frame stops as soon as its hard decision satisfies
    the syndrome (a valid but wrong word is left for verification).
    """
    frames, edges = priors.shape[0], matrix.edge_var.shape[0]
    c2v = np.zeros((frames, edges), dtype=np.float64)
    if messages is not None:
        c2v[:, : messages.shape[1]] = messages
    total = priors + np.add.reduceat(c2v[:, matrix.var_order], matrix.var_starts, axis=1)
    decoded = (total < 0).astype(np.uint8)
    done = np.all(matrix.syndromes(decoded) == syndromes, axis=1)
    active = np.flatnonzero(~done)
    c2v, total = c2v[active], total[active]
    # Edges are sorted by check: a per-check value reaches its edges by `np.repeat`.
    degrees = np.diff(np.append(matrix.check_starts, edges))
    # The syndrome bit flips the sign of every message leaving its check.
    syndrome_sign = syndromes.astype(np.int8)
    iterations = 0
    while active.shape[0] and iterations < max_iterations:
        iterations += 1
        v2c = total[:, matrix.edge_var] - c2v
        mag = _phi(np.abs(v2c))
        neg = (v2c < 0).astype(np.int8)
        mag_sum = np.add.reduceat(mag, matrix.check_starts, axis=1)
        neg_sum = np.bitwise_xor.reduceat(neg, matrix.check_starts, axis=1)
        neg_sum ^= syndrome_sign[active]
        out_mag = _phi(np.repeat(mag_sum, degrees, axis=1) - mag)
        out_neg = np.repeat(neg_sum, degrees, axis=1) ^ neg
        c2v = np.where(out_neg.astype(bool), -out_mag, out_mag)
        total = priors[active] + np.add.reduceat(
            c2v[:, matrix.var_order], matrix.var_starts, axis=1
        )
        hard = (total < 0).astype(np.uint8)
        ok = np.all(matrix.syndromes(hard) == syndromes[active], axis=1)
        decoded[active] = hard
        done[active[ok]] = True
        active, c2v, total = active[~ok], c2v[~ok], total[~ok]
    return decoded, done, c2v
