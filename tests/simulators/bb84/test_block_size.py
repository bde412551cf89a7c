"""The default block size: about 2.5e6 expected detections, which the docs quote as 3e8 pulses
at 10 km and about 2.1e9 at 50 km."""

from __future__ import annotations

import pytest

from simulators.bb84 import LinkConfig, default_block_pulses
from simulators.bb84._channel import category_probabilities


@pytest.mark.parametrize(("distance_km", "quoted"), [(10.0, 3e8), (50.0, 2.1e9)])
def test_default_block_is_the_quoted_size(distance_km: float, quoted: float) -> None:
    config = LinkConfig(distance_km=distance_km)
    pulses = default_block_pulses(config)
    assert pulses == pytest.approx(quoted, rel=0.05)
    expected_clicks = pulses * float(category_probabilities(config).sum())
    assert expected_clicks == pytest.approx(2.5e6, rel=1e-6)
