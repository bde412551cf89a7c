"""Reading a running link's figures: KmeServer.link_statistics and Lab.link_statistics hand out
what each KME's own key source reports, None for sources that report nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import KeyBlock, LinkStatistics, TestKeySource
from qkdlink.kme import KmeServer, load_config
from qkdlink.lab import Lab, create_lab
from tests.qkdlink.kme.conftest import TEST_LIMITS, A, B

LINK = f"{A}--{B}"
BLOCKS = 5
PULSES, SECONDS, DETECTIONS, SIFTED = 1000, 0.25, 40, 20


class CountingSource:
    """A test stream that reports figures: every third attempt aborts, the others give a block."""

    def __init__(self, link_id: str, *, seed: str) -> None:
        self._blocks = TestKeySource(link_id, seed=seed.encode(), block_bytes=1024)
        self.history: list[LinkStatistics] = []

    @property
    def link_id(self) -> str:
        return self._blocks.link_id

    @property
    def statistics(self) -> LinkStatistics | None:
        return self.history[-1] if self.history else None

    def statistics_after(self, attempts: int) -> LinkStatistics | None:
        return self.history[attempts - 1] if 1 <= attempts <= len(self.history) else None

    def _count(self, attempt: int) -> bool:
        accepted = attempt % 3 != 2
        figures = (self.statistics or LinkStatistics()).after_attempt(
            pulses=PULSES,
            link_seconds=SECONDS,
            detections=DETECTIONS,
            sifted_bits=SIFTED,
            accepted=accepted,
            qber=0.25 if accepted else None,
            net_key_bits=8 * 1024 if accepted else 0,
        )
        self.history.append(figures)
        return accepted

    async def blocks(self, start: int = 0) -> AsyncIterator[KeyBlock]:
        attempt = 0
        for block_id in range(start, BLOCKS):
            while not self._count(attempt):
                attempt += 1
            attempt += 1
            yield self._blocks.block(block_id)

    async def aclose(self) -> None:
        return None


def counting_source(link_id: str, *, seed: str) -> CountingSource:
    """The plugin factory the lab's KME configs name (kind = "plugin")."""
    return CountingSource(link_id, seed=seed)


def _reporting_lab(directory: Path) -> Lab:
    spec = create_lab(directory, nodes=(A, B), limits=TEST_LIMITS)
    factory = f"{__name__}:counting_source"
    for node in spec.nodes:
        text = node.config.read_text()
        assert text.count('kind = "test"') == 1
        node.config.write_text(
            text.replace('kind = "test"', f'kind = "plugin"\nfactory = "{factory}"')
        )
    return Lab(spec, "inprocess")


async def _settled(lab: Lab, node: str) -> LinkStatistics:
    deadline = time.monotonic() + 10
    while (stats := lab.link_statistics(node, LINK)) is None or stats.accepted_blocks < BLOCKS:
        assert time.monotonic() < deadline, f"{node} ingested too little: {stats}"
        await asyncio.sleep(0.02)
    return stats


async def test_both_kmes_report_their_own_sources_figures(tmp_path: Path) -> None:
    lab = _reporting_lab(tmp_path / "lab")
    await lab.start()
    try:
        at_a, at_b = await _settled(lab, A), await _settled(lab, B)
        # Five blocks took seven attempts (the third and sixth aborted), counted at each end.
        assert at_a == at_b
        assert (at_a.attempts, at_a.accepted_blocks, at_a.aborted_attempts) == (7, 5, 2)
        assert at_a.pulses == 7 * PULSES
        assert at_a.link_seconds == pytest.approx(7 * SECONDS)
        assert at_a.net_key_bits == 5 * 8 * 1024
        assert at_a.secret_key_rate_bps == pytest.approx(5 * 8 * 1024 / (7 * SECONDS))
        # A snapshot: the KME hands out the source's own figures, no copy kept elsewhere.
        server = lab.servers[A]
        assert server.link_statistics(LINK) is at_a
        # And earlier points, so two ends that stopped apart are compared at the same attempt.
        third = lab.link_statistics(A, LINK, 3)
        assert third is not None
        assert (third.attempts, third.accepted_blocks, third.aborted_attempts) == (3, 2, 1)
        assert lab.link_statistics(B, LINK, 3) == third
        assert lab.link_statistics(A, LINK, 8) is None
        with pytest.raises(ConfigurationError, match="no link"):
            lab.link_statistics(A, "hospital-a--hospital-z")
        with pytest.raises(ConfigurationError, match="no lab node"):
            lab.link_statistics("hospital-z", LINK)
        server_b = lab.servers[B]
        await lab.stop_node(B)
        with pytest.raises(ConfigurationError, match="not running"):
            lab.link_statistics(B, LINK)
        with pytest.raises(ConfigurationError, match="not running"):
            server_b.link_statistics(LINK)  # closed
        await lab.start_node(B)
        # A restarted KME's source counts from zero, resuming after the blocks B stored (all
        # five, or four if B stopped before storing the last: one more attempt then).
        restarted = lab.link_statistics(B, LINK)
        assert restarted is None or restarted.attempts == 1
    finally:
        await lab.aclose()


async def test_sources_that_report_nothing_read_as_none(lab: Lab) -> None:
    """The conftest lab's test key source has no link to report on."""
    assert lab.link_statistics(A, LINK) is None
    assert lab.link_statistics(B, LINK) is None


async def test_no_figures_from_kmes_that_are_not_running_here(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab", nodes=(A, B), limits=TEST_LIMITS)
    with pytest.raises(ConfigurationError, match="not running"):
        KmeServer(load_config(spec.node(A).config)).link_statistics(LINK)
    subprocess_lab = Lab(spec, "subprocess")
    with pytest.raises(ConfigurationError, match="in-process lab"):
        subprocess_lab.link_statistics(A, LINK)
