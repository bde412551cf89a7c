"""Shared fixtures of the post-processing tests: small blocks that distil key quickly."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from protocols.bb84 import (
    AlicePostProcessing,
    AliceRecord,
    AuthKeyPool,
    BobPostProcessing,
    BobRecord,
    PostProcessingConfig,
)
from tests.protocols.bb84._synthetic import make_records

AUTH_KEY = bytes(range(256)) * 8

# A short lab link without decoys: high transmittance, weak pulses, so the GLLP bound leaves
# key on a small block (about 50,000 sifted Z bits) and a block runs in milliseconds.
LAB = {"intensities": (0.1,), "probabilities": (1.0,), "eta": 0.5}


def lab_block(
    *, seed: int = 5, qber: float = 0.02, intercept: float = 0.0, pulses: int = 4_000_000
) -> tuple[AliceRecord, BobRecord]:
    """Records of a small lab block."""
    return make_records(pulses, seed=seed, qber=qber, intercept=intercept, **LAB)  # type: ignore[arg-type]


def lab_config(**overrides: object) -> PostProcessingConfig:
    """The config matching `lab_block`."""
    settings: dict[str, object] = {"intensities": (0.1,), **overrides}
    return PostProcessingConfig(**settings)  # type: ignore[arg-type]


def deterministic(seed: int) -> Callable[[int], bytes]:
    """A reproducible random source (tests only; production uses os.urandom)."""
    return np.random.default_rng(seed).bytes


def endpoints(
    alice_record: AliceRecord,
    bob_record: BobRecord,
    config: PostProcessingConfig,
    *,
    seed: int = 0,
    auth_key: bytes = AUTH_KEY,
) -> tuple[AlicePostProcessing, BobPostProcessing]:
    """Both ends with identical pools and deterministic seeds."""
    alice = AlicePostProcessing(
        alice_record,
        config=config,
        auth_pool=AuthKeyPool(auth_key),
        random_source=deterministic(seed),
    )
    bob = BobPostProcessing(
        bob_record,
        config=config,
        auth_pool=AuthKeyPool(auth_key),
        random_source=deterministic(seed + 1),
    )
    return alice, bob
