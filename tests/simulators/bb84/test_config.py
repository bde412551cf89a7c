"""LinkConfig: validated when built, frozen, and the derived link quantities."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qkdlink.errors import ConfigurationError
from simulators.bb84 import DecoyScheme, LinkConfig, simulate


@pytest.mark.parametrize(
    "bad",
    [
        {"pulse_rate_hz": 0.0},
        {"distance_km": -1.0},
        {"detector_efficiency": 0.0},
        {"misalignment": 0.5},
        {"decoy_intensity": 0.6},  # not below the signal
        {"decoy_probability": 0.6, "vacuum_probability": 0.5},
        {"basis_probability_z": 1.0},
        {"eve_intercept_fraction": 1.5},
        {"seed": -1},
    ],
)
def test_invalid_parameters_are_rejected_by_name(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(bad)).split("_")[0]):
        LinkConfig(**bad)  # type: ignore[arg-type]


def test_frozen_and_with_revalidates() -> None:
    config = LinkConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.distance_km = 3.0  # type: ignore[misc]
    assert config.with_(distance_km=20.0).distance_km == 20.0
    with pytest.raises(ConfigurationError):
        config.with_(misalignment=0.9)


def test_transmittance_and_classes() -> None:
    config = LinkConfig(distance_km=100.0)
    # 21 dB of fibre and η_Bob = 4.5%: Ma et al. Eq. (5).
    assert config.transmittance == pytest.approx(0.045 * 10 ** (-2.1))
    classes = config.pulse_classes
    assert [c.name for c in classes] == ["signal", "decoy", "vacuum"]
    assert sum(c.probability for c in classes) == pytest.approx(1.0)
    assert classes[2].intensity == 0.0
    single = LinkConfig(decoy=DecoyScheme.NONE).pulse_classes
    assert len(single) == 1
    assert single[0].probability == 1.0


def test_record_repr_hides_the_bits() -> None:
    record = simulate(LinkConfig(distance_km=0.0), 10_000, rng=np.random.default_rng(1))
    text = repr(record)
    assert "alice_bit" not in text
    assert "bob_bit" not in text
