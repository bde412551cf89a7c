"""The asymptotic verdict: PNS fools a decoy-less link, decoys expose it; honest links pass."""

from __future__ import annotations

import numpy as np

from simulators.bb84 import DecoyScheme, LinkAssessment, LinkConfig, assess, simulate


def _verdict(config: LinkConfig, seed: int) -> LinkAssessment:
    return assess(simulate(config, 10**9, rng=np.random.default_rng(seed)), config)


def test_honest_decoy_link_is_accepted_and_secure() -> None:
    verdict = _verdict(LinkConfig(distance_km=50.0), 1)
    assert verdict.accepted
    assert not verdict.insecure
    assert verdict.eve_known_fraction == 0.0
    assert verdict.y1_lower is not None
    assert verdict.y1_lower > 0


def test_pns_without_decoys_is_accepted_but_flagged_insecure() -> None:
    config = LinkConfig(distance_km=50.0, decoy=DecoyScheme.NONE, eve_pns=True)
    verdict = _verdict(config, 2)
    assert verdict.accepted  # gain and QBER look normal, so the naive model keeps key...
    assert verdict.eve_known_fraction > 0.99  # ...of which Eve knows almost every bit
    assert verdict.insecure


def test_pns_with_decoys_is_detected_and_aborted() -> None:
    verdict = _verdict(LinkConfig(distance_km=50.0, eve_pns=True), 3)
    assert not verdict.accepted
    assert verdict.key_rate_per_pulse <= 0.0
    assert verdict.y1_lower is not None
    honest = _verdict(LinkConfig(distance_km=50.0), 4)
    assert honest.y1_lower is not None
    assert verdict.y1_lower < 0.5 * honest.y1_lower


def test_full_intercept_resend_gives_25_percent_and_no_key() -> None:
    verdict = _verdict(LinkConfig(distance_km=10.0, eve_intercept_fraction=1.0), 5)
    assert abs(verdict.qbers[0] - 0.25) < 0.02
    assert not verdict.accepted
