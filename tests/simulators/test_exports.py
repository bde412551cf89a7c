"""The simulators' public surface is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import simulators.bb84
import simulators.keyrate

BB84 = {
    "BlockResult",
    "DecoyScheme",
    "DetectionRecord",
    "EveAction",
    "LinkAssessment",
    "LinkConfig",
    "PnsStrategy",
    "PulseClass",
    "SimulatedLinkKeySource",
    "assess",
    "auth_material",
    "bb84_circuit",
    "block_rng",
    "default_block_pulses",
    "make_key_source",
    "misalignment_error",
    "outcome_table",
    "pns_strategy",
    "run_block",
    "run_exact",
    "simulate",
    "warm_up",
}
KEYRATE = {
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
}


def test_exports_are_pinned_and_resolve() -> None:
    for module, names in ((simulators.bb84, BB84), (simulators.keyrate, KEYRATE)):
        assert set(module.__all__) == names
        for name in names:
            assert getattr(module, name) is not None


def test_plugin_entry_point_matches_the_kme_import_string() -> None:
    from qkdlink.kme import BB84_PLUGIN

    module_name, _, attr = BB84_PLUGIN.partition(":")
    assert module_name == "simulators.bb84"
    assert getattr(simulators.bb84, attr) is simulators.bb84.make_key_source
