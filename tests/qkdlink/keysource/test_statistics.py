"""LinkStatistics: attempts add up, aborted attempts cost link time but yield no key, the QBER is
pooled over accepted blocks; ReportsLinkStatistics is optional for key sources."""

from __future__ import annotations

from typing import Any

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import (
    FileKeySource,
    KeySource,
    LinkStatistics,
    ReportsLinkStatistics,
    TestKeySource,
)

# (pulses, link seconds, detections, sifted bits) of three attempts.
ACCEPTED_A = (1000, 0.5, 100, 60)
ABORTED = (1000, 0.5, 90, 40)
ACCEPTED_B = (1000, 0.5, 110, 20)


def _add(
    stats: LinkStatistics, figures: tuple[int, float, int, int], **outcome: Any
) -> LinkStatistics:
    pulses, seconds, detections, sifted = figures
    return stats.after_attempt(
        pulses=pulses, link_seconds=seconds, detections=detections, sifted_bits=sifted, **outcome
    )


def test_attempts_add_up_and_aborted_ones_yield_no_key() -> None:
    stats = _add(LinkStatistics(), ACCEPTED_A, accepted=True, qber=0.05, net_key_bits=16)
    stats = _add(stats, ABORTED, accepted=False)
    stats = _add(stats, ACCEPTED_B, accepted=True, qber=0.01, net_key_bits=8)
    assert stats.attempts == 3
    assert stats.accepted_blocks == 2
    assert stats.aborted_attempts == 1
    assert stats.pulses == 3000
    assert stats.link_seconds == pytest.approx(1.5)
    assert stats.detections == 300
    assert stats.sifted_bits == 120
    assert stats.accepted_sifted_bits == 80
    # Pooled: errors 0.05*60 + 0.01*20 = 3.2 of 80 compared bits (the aborted block's not).
    assert stats.qber == pytest.approx(3.2 / 80)
    assert stats.net_key_bits == 24
    # The rate counts the aborted attempt's link time too.
    assert stats.secret_key_rate_bps == pytest.approx(24 / 1.5)
    figures = stats.to_json()
    assert figures["secret_key_rate_bps"] == pytest.approx(16.0)
    assert figures["aborted_attempts"] == 1
    assert figures["qber"] == stats.qber


def test_only_aborted_attempts_leave_no_qber_and_no_rate() -> None:
    stats = _add(LinkStatistics(), ABORTED, accepted=False)
    assert (stats.attempts, stats.accepted_blocks, stats.pulses) == (1, 0, 1000)
    assert stats.qber is None
    assert stats.net_key_bits == 0
    assert stats.secret_key_rate_bps == 0.0
    assert LinkStatistics().secret_key_rate_bps == 0.0


def test_inconsistent_figures_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="no key"):
        _add(LinkStatistics(), ABORTED, accepted=False, net_key_bits=8)
    with pytest.raises(ConfigurationError, match="no QBER"):
        _add(LinkStatistics(), ABORTED, accepted=False, qber=0.01)
    with pytest.raises(ConfigurationError, match="needs its QBER"):
        _add(LinkStatistics(), ACCEPTED_A, accepted=True, net_key_bits=8)
    with pytest.raises(ConfigurationError, match=r"\[0, 1\]"):
        _add(LinkStatistics(), ACCEPTED_A, accepted=True, qber=1.5)
    with pytest.raises(ConfigurationError, match="negative"):
        LinkStatistics(pulses=-1)
    with pytest.raises(ConfigurationError, match="link_seconds"):
        LinkStatistics(link_seconds=float("nan"))
    with pytest.raises(ConfigurationError, match="exceed"):
        LinkStatistics(attempts=1, accepted_blocks=2, qber=0.0)
    with pytest.raises(ConfigurationError, match="exactly when"):
        LinkStatistics(attempts=1, qber=0.0)
    with pytest.raises(ConfigurationError, match="only accepted"):
        LinkStatistics(attempts=1, net_key_bits=8)


def test_statistics_are_frozen_values() -> None:
    stats = LinkStatistics(attempts=1)
    with pytest.raises(AttributeError):
        stats.attempts = 2  # type: ignore[misc]
    assert stats == LinkStatistics(attempts=1)


class _Reporting:
    """A minimal source that reports figures (what a simulated link adds to `KeySource`)."""

    def __init__(self) -> None:
        self.statistics: LinkStatistics | None = None

    def statistics_after(self, attempts: int) -> LinkStatistics | None:
        return None


def test_reporting_is_optional_for_key_sources() -> None:
    assert isinstance(_Reporting(), ReportsLinkStatistics)
    plain: list[KeySource] = [TestKeySource("a-b"), FileKeySource("a-b", "/nonexistent")]
    assert not any(isinstance(source, ReportsLinkStatistics) for source in plain)
