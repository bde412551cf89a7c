"""The simulated-link KeySource: identical at both ends, resumable, paced at the link's rate."""

from __future__ import annotations

import itertools

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeyBlock, KeySource, ReportsLinkStatistics
from simulators.bb84 import SimulatedLinkKeySource, make_key_source

# A short, clean link: small blocks still leave key, so the tests stay fast.
CHEAP = {"distance_km": 0.0, "misalignment": 0.01, "block_pulses": 5 * 10**7}


class FakeClock:
    """Time advances only when the source sleeps: no real waiting, exact pacing checks."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _source(seed: int, clock: FakeClock, **overrides: object) -> SimulatedLinkKeySource:
    params: dict[str, object] = {**CHEAP, **overrides}
    source = make_key_source("alice-bob", seed=seed, **params)
    assert isinstance(source, SimulatedLinkKeySource)
    # Swap in the fake clock (construction via the plugin entry point, as the KME does).
    return SimulatedLinkKeySource(
        source.link_id,
        config=source.config,
        block_pulses=source.block_pulses,
        clock=clock,
        sleep=clock.sleep,
    )


async def _take(source: SimulatedLinkKeySource, count: int, start: int = 0) -> list[KeyBlock]:
    out: list[KeyBlock] = []
    async for block in source.blocks(start):
        out.append(block)
        if len(out) == count:
            break
    return out


@pytest.mark.slow
async def test_both_ends_derive_identical_blocks_and_resume() -> None:
    alice_clock, bob_clock = FakeClock(), FakeClock()
    alice = _source(42, alice_clock)
    bob = _source(42, bob_clock)
    assert isinstance(alice, KeySource)
    a = await _take(alice, 2)
    b = await _take(bob, 1, start=1)  # the other end, resumed at block 1
    assert [x.block_id for x in a] == [0, 1]
    assert b[0].block_id == 1
    assert b[0].material == a[1].material
    assert a[0].material != a[1].material
    assert len(a[0]) > 1000
    assert a[0].material.hex() not in repr(a[0])
    other = await _take(_source(43, FakeClock()), 1)
    assert other[0].material != a[0].material


async def test_pacing_matches_the_link_rate_on_a_fake_clock() -> None:
    clock = FakeClock()
    source = _source(7, clock, pulse_rate_hz=1e6)  # 50 s of link time per block
    blocks = await _take(source, 1)
    per_attempt = source.link_seconds_per_attempt
    assert per_attempt == pytest.approx(5e7 / 1e6)
    # Each attempt waits out its link time; the compute took no fake time at all.
    assert clock.sleeps
    assert all(s == pytest.approx(per_attempt) for s in clock.sleeps)
    attempts = len(clock.sleeps)
    delivered_bits = sum(len(b) * 8 for b in blocks)
    link_rate = delivered_bits / (attempts * per_attempt)
    assert delivered_bits / clock.now == pytest.approx(link_rate)
    # The same block on a 1 GHz link is handed out 1000 times sooner.
    fast_clock = FakeClock()
    fast = await _take(_source(7, fast_clock), 1)
    assert fast[0].material == blocks[0].material
    assert fast_clock.now == pytest.approx(clock.now / 1000)


def test_a_link_without_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no key"):
        make_key_source("a-b", seed=1, distance_km=300.0)
    with pytest.raises(ConfigurationError, match="bad bb84"):
        make_key_source("a-b", seed=1, warp_drive=True)


async def test_the_kme_plugin_path_builds_a_working_source() -> None:
    """What `qkdlink lab up --key-source bb84` configures: the KME loads us by import string."""
    from qkdlink.kme import BB84_PLUGIN
    from qkdlink.kme import make_key_source as kme_make_key_source
    from qkdlink.kme._config import KeySourceConfig

    source = kme_make_key_source(
        "alice-bob",
        KeySourceConfig(kind="plugin", params={"seed": 99, **CHEAP}, factory=BB84_PLUGIN),
    )
    assert isinstance(source, SimulatedLinkKeySource)
    direct = _source(99, FakeClock())
    assert source.config == direct.config
    first = source.attempt(0, 0)
    assert not first.aborted
    assert first.key == direct.attempt(0, 0).key


# At this block size the finite-key bound sits near zero: some attempts abort, others leave key.
THRESHOLD = {**CHEAP, "block_pulses": 3 * 10**7}


async def test_statistics_add_up_over_the_attempts_run_aborted_ones_included() -> None:
    clock = FakeClock()
    source = _source(42, clock, **THRESHOLD)
    assert isinstance(source, ReportsLinkStatistics)
    assert source.statistics is None
    await _take(source, 2)
    stats = source.statistics
    assert stats is not None
    # The same attempts recomputed one by one (they are deterministic), as blocks() runs them:
    # each block's attempts until one is accepted.
    replay = _source(42, FakeClock(), **THRESHOLD)
    results = []
    for block_id in range(2):
        for attempt in itertools.count():
            result = replay.attempt(block_id, attempt)
            results.append(result)
            if not result.aborted and result.keys_equal and result.key:
                break
    accepted = [r for r in results if not r.aborted]
    assert len(accepted) == 2
    assert len(results) > 2, "expected an aborted attempt at this block size"
    assert stats.attempts == len(results)
    assert stats.accepted_blocks == 2
    assert stats.aborted_attempts == len(results) - 2
    # Aborted attempts cost pulses, link time, clicks and sifting ...
    assert stats.pulses == sum(r.pulses for r in results) == len(results) * 3 * 10**7
    assert stats.link_seconds == pytest.approx(len(results) * source.link_seconds_per_attempt)
    assert stats.link_seconds == pytest.approx(clock.now)  # the time the source paced itself by
    assert stats.detections == sum(r.detections for r in results)
    assert stats.sifted_bits == sum(r.sifted_bits for r in results)
    # ... but only accepted blocks count for the QBER and the key.
    assert stats.accepted_sifted_bits == sum(r.sifted_bits for r in accepted)
    pooled = sum(r.qber * r.sifted_bits for r in accepted) / stats.accepted_sifted_bits
    assert stats.qber == pytest.approx(pooled, rel=1e-12)
    assert stats.net_key_bits == sum(r.net_key_bits for r in accepted) > 0
    assert stats.secret_key_rate_bps == pytest.approx(stats.net_key_bits / clock.now)
    # The other end of the link, run separately, reports the same figures.
    other_end = _source(42, FakeClock(), **THRESHOLD)
    await _take(other_end, 2)
    assert other_end.statistics == stats
    # Earlier points stay readable, so ends that stopped apart compare at the same attempt.
    assert source.statistics_after(stats.attempts) == stats
    first = source.statistics_after(1)
    assert first is not None
    assert first.attempts == 1
    assert first.pulses == results[0].pulses
    assert first.sifted_bits == results[0].sifted_bits
    assert source.statistics_after(0) is None
    assert source.statistics_after(stats.attempts + 1) is None


async def test_a_link_without_accepted_blocks_reports_attempts_but_no_key() -> None:
    clock = FakeClock()
    source = _source(5, clock, block_pulses=10**6)  # far too small a block to leave key
    source = SimulatedLinkKeySource(
        source.link_id,
        config=source.config,
        block_pulses=source.block_pulses,
        clock=clock,
        sleep=clock.sleep,
        max_attempts=3,
    )
    assert await _take(source, 1) == []
    stats = source.statistics
    assert stats is not None
    assert (stats.attempts, stats.accepted_blocks, stats.aborted_attempts) == (3, 0, 3)
    assert stats.pulses == 3 * 10**6
    assert stats.link_seconds == pytest.approx(clock.now)
    assert stats.detections > 0
    assert stats.qber is None
    assert (stats.accepted_sifted_bits, stats.net_key_bits, stats.secret_key_rate_bps) == (0, 0, 0)
