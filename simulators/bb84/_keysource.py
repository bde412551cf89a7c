"""A `KeySource` backed by a running simulated BB84 link, for KMEs in test labs.

Both ends of a link construct the source with the same seed and parameters and see the same
blocks: block b is distilled from attempt (b, 0), (b, 1), ... — each attempt a full simulated
block of pulses through the whole post-processing chain, seeded by (seed, link, b, attempt) —
until one is accepted, so the stream is deterministic and random-access (resumable) at both
ends, in any process. An attack that makes every block abort yields no key at all, as on a
real link.

Pacing: each attempt stands for `block_pulses / pulse_rate_hz` seconds of link time, and the
source does not hand out a block before that much (wall-clock) time has passed since it started
streaming, so the key pool fills at the simulated link's secret key rate.

Statistics: the source reports its link's figures so far (`statistics`, a `LinkStatistics`):
every attempt counts for attempts, pulses, link time, detections and sifted bits once its link
time has elapsed; only accepted ones count for the QBER and the key. Both ends agree.

NOT secret: anyone who knows the seed can recompute the stream (a lab stand-in for hardware).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeyBlock, KeySource, LinkStatistics
from simulators.bb84._config import DecoyScheme, LinkConfig
from simulators.bb84._link import BlockResult, auth_material, block_rng, run_block
from simulators.keyrate import DecoyMethod, key_rate

__all__ = ["SimulatedLinkKeySource", "default_block_pulses", "make_key_source"]

_HISTORY_ATTEMPTS = 4096
"""Snapshots kept for `statistics_after` (a few hours of a lab's link at 10 km)."""

TARGET_DETECTIONS = 2.5e6
"""Detections per block aimed for when the block size is not given: enough for the finite-key
bound to leave key at the default settings (about 3e8 pulses at 10 km, 2.1e9 at 50 km)."""


def default_block_pulses(config: LinkConfig) -> int:
    """Pulses per block so that about `TARGET_DETECTIONS` clicks are expected (1e8..1e12)."""
    from simulators.bb84._channel import category_probabilities

    p_click = float(category_probabilities(config).sum())
    return int(min(max(TARGET_DETECTIONS / p_click, 1e8), 1e12))


class SimulatedLinkKeySource:
    """Key blocks distilled from a simulated decoy-state BB84 link, paced at its key rate."""

    def __init__(
        self,
        link_id: str,
        *,
        config: LinkConfig,
        block_pulses: int | None = None,
        reconciliation: str = "cascade-opt",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int | None = None,
    ) -> None:
        if block_pulses is None:
            block_pulses = default_block_pulses(config)
        if block_pulses <= 0:
            raise ConfigurationError("block_pulses must be positive")
        if max_attempts is not None and max_attempts <= 0:
            raise ConfigurationError("max_attempts must be positive")
        self._link_id = link_id
        self._config = config
        self._block_pulses = block_pulses
        self._reconciliation = reconciliation
        self._clock = clock
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._link_word = int.from_bytes(hashlib.sha256(link_id.encode()).digest()[:8], "big")
        self.link_seconds_per_attempt = block_pulses / config.pulse_rate_hz
        """Link time one attempt stands for (pulses / pulse rate)."""
        self._history: deque[LinkStatistics] = deque(maxlen=_HISTORY_ATTEMPTS)
        """The figures after each of the last attempts; the newest is `statistics`."""

    @property
    def link_id(self) -> str:
        return self._link_id

    @property
    def config(self) -> LinkConfig:
        return self._config

    @property
    def block_pulses(self) -> int:
        return self._block_pulses

    @property
    def statistics(self) -> LinkStatistics | None:
        """The link's figures over the attempts `blocks()` finished; None before the first."""
        return self._history[-1] if self._history else None

    def statistics_after(self, attempts: int) -> LinkStatistics | None:
        """The figures after `attempts` attempts, if among the last `_HISTORY_ATTEMPTS`."""
        latest = self.statistics
        if latest is None or not 1 <= attempts <= latest.attempts:
            return None
        back = latest.attempts - attempts
        return self._history[-1 - back] if back < len(self._history) else None

    def _record(self, result: BlockResult, accepted: bool) -> None:
        """Count one finished attempt (an aborted one: its link time and clicks, no key)."""
        figures = (self.statistics or LinkStatistics()).after_attempt(
            pulses=int(result.pulses),
            link_seconds=float(result.link_seconds),
            detections=int(result.detections),
            sifted_bits=int(result.sifted_bits),
            accepted=accepted,
            qber=float(result.qber) if accepted else None,
            net_key_bits=int(result.net_key_bits) if accepted else 0,
        )
        self._history.append(figures)

    def attempt(self, block_id: int, attempt: int) -> BlockResult:
        """Run attempt `attempt` of block `block_id` (deterministic; CPU-heavy)."""
        words = (self._link_word, block_id, attempt)
        return run_block(
            self._config,
            self._block_pulses,
            rng=block_rng(self._config.seed, *words),
            auth_key=auth_material(self._config.seed, *words),
            reconciliation=self._reconciliation,
        )

    async def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        """Yield blocks `start`, `start + 1`, ...; each after its link time has elapsed."""
        began = self._clock()
        link_time = 0.0
        block_id = start
        while True:
            attempt = 0
            while True:
                result = await asyncio.to_thread(self.attempt, block_id, attempt)
                link_time += self.link_seconds_per_attempt
                delay = began + link_time - self._clock()
                if delay > 0:
                    await self._sleep(delay)
                accepted = not result.aborted and result.keys_equal and bool(result.key)
                self._record(result, accepted)
                if accepted:
                    yield KeyBlock(block_id, result.key)
                    break
                attempt += 1
                if self._max_attempts is not None and attempt >= self._max_attempts:
                    return
            block_id += 1

    async def aclose(self) -> None:
        return None


def make_key_source(
    link_id: str,
    *,
    seed: int,
    distance_km: float = 10.0,
    block_pulses: int | None = None,
    reconciliation: str = "cascade-opt",
    **params: Any,
) -> KeySource:
    """The `simulators.bb84:make_key_source` plugin of `qkdlink lab up --key-source bb84`.

    `params` are further `LinkConfig` fields (pulse_rate_hz, misalignment, eve_pns, ...).

    Raises:
        ConfigurationError: bad parameters, or a link that can never produce key (the
            asymptotic model gives no positive rate at this distance).
    """
    if "decoy" in params:
        params["decoy"] = DecoyScheme(params["decoy"])
    try:
        config = LinkConfig(distance_km=float(distance_km), seed=int(seed), **params)
    except TypeError as exc:
        raise ConfigurationError(f"bad bb84 key source parameter: {exc}") from exc
    device = config.device_parameters()
    method = (
        DecoyMethod.VACUUM_WEAK if config.decoy is DecoyScheme.VACUUM_WEAK else DecoyMethod.NONE
    )
    if key_rate(config.signal_intensity, config.distance_km, method, device) <= 0.0:
        raise ConfigurationError(
            f"no key is possible at {config.distance_km} km with these parameters"
        )
    return SimulatedLinkKeySource(
        link_id,
        config=config,
        block_pulses=None if block_pulses is None else int(block_pulses),
        reconciliation=reconciliation,
    )
