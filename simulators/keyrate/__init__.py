"""Asymptotic decoy-state BB84 key rate (GLLP; Ma, Qi, Zhao, Lo 2005), numpy and scipy only."""

from simulators.keyrate._model import (
    DecoyMethod,
    DeviceParameters,
    KeyRatePoint,
    ObservedStatistics,
    SinglePhotonEstimate,
    binary_entropy,
    estimate_single_photon,
    key_rate,
    max_distance_km,
    optimal_key_rate,
    secret_fraction,
)

__all__ = [
    "DecoyMethod",
    "DeviceParameters",
    "KeyRatePoint",
    "ObservedStatistics",
    "SinglePhotonEstimate",
    "binary_entropy",
    "estimate_single_photon",
    "key_rate",
    "max_distance_km",
    "optimal_key_rate",
    "secret_fraction",
]
