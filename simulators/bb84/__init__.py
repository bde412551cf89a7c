"""A decoy-state BB84 link simulated on qiskit: weak coherent pulses, fibre, detectors and Eve."""

from simulators.bb84._assess import LinkAssessment, assess
from simulators.bb84._channel import DetectionRecord, PnsStrategy, pns_strategy, simulate
from simulators.bb84._config import DecoyScheme, LinkConfig, PulseClass
from simulators.bb84._keysource import (
    SimulatedLinkKeySource,
    default_block_pulses,
    make_key_source,
)
from simulators.bb84._link import BlockResult, auth_material, block_rng, run_block, warm_up
from simulators.bb84._qubit import (
    EveAction,
    bb84_circuit,
    misalignment_error,
    outcome_table,
    run_exact,
)

__all__ = [
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
]
