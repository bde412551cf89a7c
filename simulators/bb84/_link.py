"""One block through the whole link: the simulated quantum channel, then both ends'
post-processing (`protocols.bb84`, sans-IO) wired in memory, with the classical traffic counted.

The simulator hands each end only what that end would know: Alice her bits, bases and
intensity classes (and how many pulses of each class she sent), Bob the slots that clicked with
his bases and bits. The ground truth (which clicks were photons, what Eve knows) never reaches
the protocol objects; it only feeds the asymptotic verdict in the summary.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulators.bb84._assess import LinkAssessment, assess
from simulators.bb84._channel import BlockSampler, DetectionRecord
from simulators.bb84._config import LinkConfig

if TYPE_CHECKING:
    from protocols.bb84 import TransferResult

__all__ = [
    "BlockResult",
    "auth_material",
    "block_rng",
    "run_block",
    "simulate_in_chunks",
    "warm_up",
]

AUTH_POOL_BYTES = 1 << 18
"""Pre-shared authentication key handed to each block (both ends): 256 KiB."""

_CHUNK_PULSES = 1 << 28


@dataclass(frozen=True, slots=True)
class BlockResult:
    """The outcome of one block; `summary()` is the JSON contract of `qkdlink sim bb84`."""

    pulses: int
    detections: int
    sifted_bits: int
    qber: float
    """Error rate of the sifted Z-basis key bits (all intensity classes) before error correction:
    errors corrected / key bits on accepted blocks, counted from the simulated records on aborted
    ones (the same quantity; an abort reason quotes Alice's X-basis estimate instead)."""
    ec_leaked_bits: int
    ec_efficiency: float
    ec_frame_error: bool
    """Error correction left the keys different (caught by verification, so the block aborts)."""
    final_key_bits: int
    """ℓ, the privacy-amplified key length (finite-key bound)."""
    net_key_bits: int
    """ℓ minus the authentication key this block consumed: the key actually delivered."""
    classical_bytes: int
    round_trips: int
    aborted: bool
    abort_reason: str | None
    keys_equal: bool
    link_seconds: float
    """Pulses / pulse rate: how long the real link takes to emit this block."""
    assessment: LinkAssessment
    key: bytes = field(repr=False)
    """Alice's final key (empty when aborted); equals Bob's when `keys_equal`."""

    @property
    def secret_key_rate_per_pulse(self) -> float:
        """Net key bits per emitted pulse."""
        return self.net_key_bits / self.pulses if self.pulses else 0.0

    @property
    def secret_key_rate_bps(self) -> float:
        """Net key bits per second of link time."""
        return self.net_key_bits / self.link_seconds if self.link_seconds else 0.0

    def summary(self) -> dict[str, object]:
        """Public figures of the block (no key material)."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        a = self.assessment
        return {
            "pulses": self.pulses,
            "detections": self.detections,
            "sifted_bits": self.sifted_bits,
            "qber": num(self.qber),
            "ec_leaked_bits": self.ec_leaked_bits,
            "ec_efficiency": num(self.ec_efficiency),
            "ec_frame_error": self.ec_frame_error,
            "final_key_bits": self.final_key_bits,
            "net_key_bits": self.net_key_bits,
            "secret_key_rate_per_pulse": self.secret_key_rate_per_pulse,
            "secret_key_rate_bps": self.secret_key_rate_bps,
            "classical_bytes": self.classical_bytes,
            "round_trips": self.round_trips,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "keys_equal": self.keys_equal,
            "link_seconds": self.link_seconds,
            "model": {
                "gains": [num(g) for g in a.gains],
                "qbers": [num(q) for q in a.qbers],
                "y1_lower": a.y1_lower,
                "e1_upper": a.e1_upper,
                "asymptotic_key_rate_per_pulse": a.key_rate_per_pulse,
                "accepted": a.accepted,
                "eve_known_fraction": a.eve_known_fraction,
                "insecure": a.insecure,
            },
        }


def block_rng(seed: int, *words: int) -> np.random.Generator:
    """The generator of one block: independent streams per (seed, link, block, attempt)."""
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def auth_material(seed: int, *words: int) -> bytes:
    """The simulated pre-shared authentication key of a block (identical at both ends).

    A lab stand-in for the key a real link carries over from earlier blocks; derived with
    SHAKE-256 from the seed, so it is NOT secret against anyone who knows the seed.
    """
    label = b"qkdlink/bb84-sim/auth/v1\x00" + b"\x00".join(str(w).encode() for w in (seed, *words))
    return hashlib.shake_256(label).digest(AUTH_POOL_BYTES)


def simulate_in_chunks(
    config: LinkConfig,
    pulses: int,
    *,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> DetectionRecord:
    """`simulate` in chunks of 2^28 pulses (bounded temporaries, a progress callback per
    chunk), each chunk's detections written straight after the previous ones."""
    if pulses < 0:
        raise ValueError("pulses must be non-negative")
    sampler = BlockSampler(config, BlockSampler.capacity_for(config, pulses, _CHUNK_PULSES))
    done = 0
    while True:
        size = min(_CHUNK_PULSES, pulses - done)
        sampler.add(size, rng)
        done += size
        if progress is not None:
            progress(size)
        if done >= pulses:
            break
    return sampler.record()


def run_block(
    config: LinkConfig,
    pulses: int,
    *,
    rng: np.random.Generator,
    auth_key: bytes,
    reconciliation: str = "cascade-opt",
    progress: Callable[[int], None] | None = None,
) -> BlockResult:
    """Simulate `pulses` pulses and distil them with both ends' post-processing.

    Raises:
        ConfigurationError: an error-correction method the post-processing does not offer.
    """
    from protocols.bb84 import (
        AlicePostProcessing,
        AliceRecord,
        AuthKeyPool,
        BobPostProcessing,
        BobRecord,
        PostProcessingConfig,
        run_in_memory,
    )
    from qkdlink.errors import ConfigurationError

    if reconciliation not in ("cascade", "cascade-opt", "ldpc"):
        raise ConfigurationError(
            f"error correction {reconciliation!r} is not available (cascade, cascade-opt, ldpc)"
        )
    record = simulate_in_chunks(config, pulses, rng=rng, progress=progress)
    # The public random choices of post-processing (Cascade permutations, hash seeds) come from
    # the block's generator too, so a seed reproduces the final key bit for bit — which is how
    # two KMEs in different processes derive the same key from a simulated link.
    alice_public = np.random.default_rng(rng.integers(0, 2**63)).bytes
    bob_public = np.random.default_rng(rng.integers(0, 2**63)).bytes
    verdict = assess(record, config)
    intensities = tuple(c.intensity for c in config.pulse_classes)
    post_config = PostProcessingConfig(
        intensities=intensities,
        reconciliation=reconciliation,  # type: ignore[arg-type]
    )
    alice = AlicePostProcessing(
        AliceRecord(
            pulse_index=record.slot,
            bits=record.alice_bit,
            bases=record.alice_basis,
            intensity=record.pulse_class,
            pulses_sent=tuple(int(x) for x in record.emitted_per_class),
        ),
        config=post_config,
        auth_pool=AuthKeyPool(auth_key),
        random_source=alice_public,
    )
    bob = BobPostProcessing(
        BobRecord(pulse_index=record.slot, bases=record.bob_basis, bits=record.bob_bit),
        config=post_config,
        auth_pool=AuthKeyPool(auth_key),
        random_source=bob_public,
    )
    transfer = run_in_memory(alice, bob)
    return _result(config, record, verdict, transfer)


def _result(
    config: LinkConfig, record: DetectionRecord, verdict: LinkAssessment, transfer: TransferResult
) -> BlockResult:
    link_seconds = record.pulses / config.pulse_rate_hz
    if transfer.alice is not None and transfer.bob is not None:
        stats = transfer.alice.statistics
        return BlockResult(
            pulses=record.pulses,
            detections=record.detections,
            sifted_bits=stats.sifted_bits,
            qber=stats.qber_ec,
            ec_leaked_bits=stats.ec_leaked_bits,
            ec_efficiency=stats.ec_efficiency,
            ec_frame_error=False,
            final_key_bits=stats.final_key_bits,
            net_key_bits=stats.net_key_bits,
            classical_bytes=transfer.classical_bytes,
            round_trips=transfer.round_trips,
            aborted=False,
            abort_reason=None,
            keys_equal=hmac.compare_digest(transfer.alice.key, transfer.bob.key),
            link_seconds=link_seconds,
            assessment=verdict,
            key=transfer.alice.key,
        )
    reason = transfer.abort_reason or "no key"
    return BlockResult(
        pulses=record.pulses,
        detections=record.detections,
        sifted_bits=int(np.count_nonzero(record.sifted_mask())),
        qber=_key_error_rate(record),
        ec_leaked_bits=0,
        ec_efficiency=float("nan"),
        ec_frame_error="verification" in reason or "frame error" in reason,
        final_key_bits=0,
        net_key_bits=0,
        classical_bytes=transfer.classical_bytes,
        round_trips=transfer.round_trips,
        aborted=True,
        abort_reason=reason,
        keys_equal=False,
        link_seconds=link_seconds,
        assessment=verdict,
        key=b"",
    )


def _key_error_rate(record: DetectionRecord) -> float:
    """Fraction of the sifted Z-basis bits (the raw key) where Bob's bit differs from Alice's;
    NaN without any."""
    from protocols.bb84 import BASIS_Z

    key = (record.alice_basis == BASIS_Z) & (record.bob_basis == BASIS_Z)
    n = int(np.count_nonzero(key))
    if n == 0:
        return float("nan")
    return int(np.count_nonzero(record.alice_bit[key] != record.bob_bit[key])) / n


def warm_up() -> BlockResult:
    """Run one small block that reaches every stage, so numba compiles the simulator's and the
    post-processing kernels now (or loads them from its on-disk cache) rather than inside the
    first real block; 20-40 s on a fresh checkout, well under a second afterwards.

    Raises:
        RuntimeError: the block aborted before privacy amplification (a broken configuration).
    """
    # 3e8 pulses at 10 km (the lab's block there): enough sifted bits for the finite-key bound
    # to leave key, so Cascade, verification and privacy amplification all run; the seed is
    # fixed, so whether it does is decided once (and tested).
    result = run_block(
        LinkConfig(distance_km=10.0),
        3 * 10**8,
        rng=block_rng(2025, 0),
        auth_key=auth_material(2025, 0),
    )
    if result.aborted or not result.keys_equal:
        raise RuntimeError(
            f"warm-up block did not reach privacy amplification: {result.abort_reason}"
        )
    return result
