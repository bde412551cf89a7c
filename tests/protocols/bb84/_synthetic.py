"""Synthetic detection records for the post-processing tests (a stand-in for the simulator).

Draws only the detected pulses: per-class click probabilities 1 - exp(-η μ) + Y0, random bases,
a bit-error rate on matching bases, optional intercept-resend on a fraction of the pulses.
Deterministic given the seed.
"""

from __future__ import annotations

import math

import numpy as np

from protocols.bb84 import AliceRecord, BobRecord

DECOY = (0.5, 0.1, 0.0)
DECOY_PROBABILITIES = (0.5, 0.3, 0.2)


def make_records(
    pulses: int,
    *,
    seed: int,
    qber: float = 0.02,
    intercept: float = 0.0,
    intensities: tuple[float, ...] = DECOY,
    probabilities: tuple[float, ...] = DECOY_PROBABILITIES,
    eta: float = 0.05,
    y0: float = 1e-5,
) -> tuple[AliceRecord, BobRecord]:
    """Alice's and Bob's records of one block of `pulses` pulses."""
    rng = np.random.default_rng(seed)
    sent = np.floor(np.asarray(probabilities) * pulses).astype(np.int64)
    click = np.array([1.0 - math.exp(-eta * m) + y0 for m in intensities])
    expected = sent * click
    detections = int(rng.poisson(expected.sum()))
    index = np.unique(rng.integers(0, pulses, detections))
    count = index.shape[0]
    cls = rng.choice(len(intensities), count, p=expected / expected.sum()).astype(np.uint8)
    a_bits = rng.integers(0, 2, count, dtype=np.uint8)
    a_bases = rng.integers(0, 2, count, dtype=np.uint8)
    b_bases = rng.integers(0, 2, count, dtype=np.uint8)
    # Detections from dark counts give random bits; signal detections err with prob. qber.
    signal = np.array([1.0 - math.exp(-eta * m) for m in intensities])[cls]
    dark = rng.random(count) >= signal / (signal + y0)
    flip = rng.random(count) < qber
    b_bits = np.where(a_bases == b_bases, a_bits ^ flip, rng.integers(0, 2, count)).astype(np.uint8)
    b_bits[dark] = rng.integers(0, 2, int(dark.sum()), dtype=np.uint8)
    if intercept:
        # Eve measures in a random basis and resends: a wrong guess randomises Bob's bit.
        eve = (rng.random(count) < intercept) & (rng.integers(0, 2, count) != a_bases)
        b_bits[eve] = rng.integers(0, 2, int(eve.sum()), dtype=np.uint8)
    alice = AliceRecord(index, a_bits, a_bases, cls, tuple(int(s) for s in sent))
    bob = BobRecord(index, b_bases, b_bits)
    return alice, bob
