"""The Wisconsin breast-cancer data set (bundled with scikit-learn), split across hospitals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["HOSPITALS", "Partition", "SplitData", "load_split"]

HOSPITALS = ("hospital-a", "hospital-b", "hospital-c")
_SHARES = (0.45, 0.35, 0.20)
"""Unequal horizontal partitions: hospitals of different sizes."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Partition:
    """One hospital's private training records (raw, unstandardized features)."""

    X: FloatArray = field(repr=False)
    y: FloatArray = field(repr=False)


@dataclass(frozen=True, slots=True)
class SplitData:
    """The partitions, the held-out test split (public, for evaluation) and feature names."""

    partitions: dict[str, Partition]
    X_test: FloatArray = field(repr=False)
    y_test: FloatArray = field(repr=False)
    feature_names: tuple[str, ...]


def load_split(seed: int = 0) -> SplitData:
    """Stratified 75/25 train/test split; the training rows shuffled and cut 45/35/20."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    X, y = data.data.astype(np.float64), data.target.astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    order = np.random.default_rng(seed + 1).permutation(len(X_train))
    bounds = np.cumsum([int(s * len(order)) for s in _SHARES[:-1]])
    parts = np.split(order, bounds)
    partitions = {
        h: Partition(X_train[idx], y_train[idx]) for h, idx in zip(HOSPITALS, parts, strict=True)
    }
    return SplitData(partitions, X_test, y_test, tuple(str(n) for n in data.feature_names))
