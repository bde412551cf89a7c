"""Joint logistic regression by secure aggregation: only PRZS-masked fixed-point sums travel.

Each round every hospital encodes its local gradient sum in Z_2^64 (fixed point), adds its PRZS
zero share, and sends the masked vector to the others; each sums what it received. The zero
shares cancel, so every hospital obtains exactly the sum of the encoded gradients and nothing
else: a single masked vector is uniformly distributed to anyone lacking one of its two PRZS
seeds. Standardization statistics (counts, sums, centred sums of squares) travel the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qkdlink.mesh import Mesh
from qkdlink.randomness import Przs

__all__ = [
    "FRACTIONAL_BITS",
    "Scaler",
    "TrainingConfig",
    "decode",
    "encode",
    "fit_centralised",
    "predict",
    "secure_sum",
    "train_jointly",
]

FRACTIONAL_BITS = 20
"""Fixed-point scale 2^20: about 1e-6 resolution; |values| < 2^43 fit in Z_2^64 as signed."""

FloatArray = npt.NDArray[np.float64]


def encode(values: FloatArray) -> npt.NDArray[np.uint64]:
    """Fixed point in Z_2^64: round(v * 2^f) as two's complement."""
    return np.round(values * (1 << FRACTIONAL_BITS)).astype(np.int64).view(np.uint64)


def decode(values: npt.NDArray[np.uint64]) -> FloatArray:
    """The inverse of `encode` (after any sum mod 2^64 of encodings)."""
    return values.view(np.int64).astype(np.float64) / (1 << FRACTIONAL_BITS)


async def secure_sum(mesh: Mesh, przs: Przs, tag: str, values: FloatArray) -> FloatArray:
    """The sum over all hospitals of `values`, learning nothing else (PRZS-masked, Z_2^64).

    Raises:
        PartyDisconnectedError: a hospital left or timed out.
    """
    masked = encode(values) + przs.zero_share(values.size)
    gathered = await mesh.gather_arrays(tag, masked)
    total = np.zeros(values.size, dtype=np.uint64)
    for share in gathered.values():
        total += share.view(np.uint64)  # wraps mod 2^64 by design (dtype checked on receipt)
    return decode(total)


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """Full-batch gradient descent on the mean logistic loss with L2 regularisation."""

    rounds: int = 300
    learning_rate: float = 0.5
    l2: float = 1e-3


@dataclass(frozen=True, slots=True)
class Scaler:
    """Feature standardization (mean and standard deviation of the pooled training data)."""

    mean: FloatArray
    std: FloatArray

    def transform(self, X: FloatArray) -> FloatArray:
        return (X - self.mean) / self.std


def _with_bias(X: FloatArray) -> FloatArray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _gradient_sum(w: FloatArray, X: FloatArray, y: FloatArray) -> FloatArray:
    p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -500.0, 500.0)))
    return np.asarray(X.T @ (p - y), dtype=np.float64)


def _step(w: FloatArray, grad_sum: FloatArray, n: float, cfg: TrainingConfig) -> FloatArray:
    reg = cfg.l2 * w
    reg[-1] = 0.0  # the bias is not regularised
    return w - cfg.learning_rate * (grad_sum / n + reg)


def predict(w: FloatArray, X_std: FloatArray) -> FloatArray:
    """Predicted labels (0/1) for standardized features."""
    return (_with_bias(X_std) @ w > 0).astype(np.float64)


def fit_centralised(X: FloatArray, y: FloatArray, cfg: TrainingConfig) -> tuple[Scaler, FloatArray]:
    """The same algorithm on pooled plaintext data (the baseline the joint model must match)."""
    scaler = Scaler(X.mean(axis=0), X.std(axis=0))
    Xb = _with_bias(scaler.transform(X))
    w = np.zeros(Xb.shape[1])
    for _ in range(cfg.rounds):
        w = _step(w, _gradient_sum(w, Xb, y), float(len(y)), cfg)
    return scaler, w


async def train_jointly(
    mesh: Mesh, przs: Przs, X: FloatArray, y: FloatArray, cfg: TrainingConfig
) -> tuple[Scaler, FloatArray]:
    """This hospital's side of joint training; every hospital ends with the same model.

    Raises:
        PartyDisconnectedError: a hospital left or timed out.
    """
    d = X.shape[1]
    # Two secure sums: counts and feature sums give the mean; then centred sums of squares give
    # the variance (centring keeps every value well inside the fixed-point range and precision).
    totals = await secure_sum(mesh, przs, "train/sums", np.concatenate([[float(len(y))], X.sum(0)]))
    n = totals[0]
    mean = totals[1:] / n
    squares = await secure_sum(mesh, przs, "train/squares", ((X - mean) ** 2).sum(axis=0))
    std = np.sqrt(np.maximum(squares / n, 1e-12))
    scaler = Scaler(mean, std)
    Xb = _with_bias(scaler.transform(X))
    w = np.zeros(d + 1)
    for r in range(cfg.rounds):
        grad = await secure_sum(mesh, przs, f"train/grad/{r}", _gradient_sum(w, Xb, y))
        w = _step(w, grad, n, cfg)
    return scaler, w
