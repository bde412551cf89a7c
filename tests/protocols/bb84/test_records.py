"""Input records and config are validated once, at construction."""

from __future__ import annotations

import numpy as np
import pytest

from protocols.bb84 import AliceRecord, BobRecord, PostProcessingConfig
from protocols.errors import LocalProtocolError

ONES = np.ones(3, dtype=np.uint8)
INDEX = np.array([1, 5, 9])


def test_valid_records_are_normalised() -> None:
    alice = AliceRecord(INDEX, [0, 1, 1], ONES, [0, 1, 0], (10, 10))  # type: ignore[arg-type]
    assert alice.bits.dtype == np.uint8
    assert alice.pulse_index.dtype == np.int64
    assert len(alice) == 3
    assert "bits" not in repr(alice)
    assert "bases" not in repr(alice)
    bob = BobRecord(INDEX, ONES, ONES)
    assert len(bob) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pulse_index": np.array([1, 1, 2])},
        {"pulse_index": np.array([-1, 1, 2])},
        {"bits": np.array([0, 2, 1])},
        {"bases": np.ones(2, dtype=np.uint8)},
        {"intensity": np.array([0, 2, 0])},
        {"pulses_sent": (1, 0)},
        {"pulses_sent": ()},
    ],
)
def test_invalid_alice_records(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "pulse_index": INDEX,
        "bits": ONES,
        "bases": ONES,
        "intensity": np.array([0, 1, 0]),
        "pulses_sent": (10, 10),
        **kwargs,
    }
    with pytest.raises(LocalProtocolError):
        AliceRecord(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"intensities": ()},
        {"intensities": (0.5, 0.1)},
        {"intensities": (0.5, 0.3, 0.3)},
        {"intensities": (0.5, 0.45, 0.1)},
        {"intensities": (0.0,)},
        {"reconciliation": "turbo"},
        {"eps_sec": 0.0},
        {"eps_cor": 1.0},
        {"max_qber": 0.6},
        {"max_message_bytes": 10},
        {"frame_bits": 100},
        {"ldpc_frame_bits": 100},
    ],
)
def test_invalid_config(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"intensities": (0.5, 0.1, 0.0), **kwargs}
    with pytest.raises(LocalProtocolError):
        PostProcessingConfig(**settings)  # type: ignore[arg-type]


def test_config_derived_values() -> None:
    config = PostProcessingConfig(intensities=(0.5, 0.1, 0.0), eps_cor=1e-15)
    assert config.decoy
    assert config.verification_tag_bits == 50
    assert not PostProcessingConfig(intensities=(0.3,)).decoy
