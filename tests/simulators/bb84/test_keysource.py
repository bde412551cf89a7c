"""The simulated-link KeySource: identical at both ends, resumable, paced at the link's rate."""

from __future__ import annotations

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeyBlock, KeySource
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
