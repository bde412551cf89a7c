"""The qubit on qiskit: BB84 state preparation, the channel, Eve's measure-and-prepare, Bob.

Two ways to the same statistics:

- `outcome_table` evolves a `qiskit.quantum_info.DensityMatrix` once per configuration
  (Alice's basis × bit × Eve's action × Bob's basis) through the same quantum channels the
  circuits use, and returns P(Bob reads 1). The fast sampler draws from this table.
- `run_exact` builds one real circuit per qubit and runs them, batched, on `AerSimulator`
  with an Aer noise model: the textbook way, for small runs and the chi-square check.

Encoding: basis 0 = Z (|0>, |1>), basis 1 = X (|+>, |->). Misalignment e_d is a depolarising
channel of parameter 2·e_d (Aer's convention ρ → (1−λ)ρ + λ·I/2), which flips the outcome
with probability e_d in either basis, as the symmetric error model of Ma et al. (2005) assumes.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit_aer.noise import QuantumError

__all__ = [
    "EveAction",
    "bb84_circuit",
    "misalignment_error",
    "outcome_table",
    "run_exact",
]

_MISALIGN_GATE = "id"
"""The gate that carries the misalignment noise in the Aer noise model (one per qubit)."""


class EveAction(enum.IntEnum):
    """What Eve does to a qubit before it reaches Bob."""

    NONE = 0
    MEASURE_Z = 1
    """Measure in Z and resend the eigenstate she saw (intercept-resend)."""
    MEASURE_X = 2
    """Measure in X and resend the eigenstate she saw (intercept-resend)."""


def misalignment_error(misalignment: float) -> QuantumError:
    """Depolarising noise that flips a BB84 outcome with probability `misalignment`."""
    from qiskit_aer.noise import depolarizing_error

    return depolarizing_error(2.0 * misalignment, 1)


def bb84_circuit(alice_basis: int, bit: int, eve: EveAction, bob_basis: int) -> QuantumCircuit:
    """One BB84 qubit: prepare, optional intercept-resend, channel (`id` + noise), measure.

    Classical registers: `eve` (Eve's result, 0 when she does nothing) and `bob`.
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    qreg = QuantumRegister(1, "q")
    eve_reg = ClassicalRegister(1, "eve")
    bob_reg = ClassicalRegister(1, "bob")
    qc = QuantumCircuit(qreg, eve_reg, bob_reg)
    if bit:
        qc.x(0)
    if alice_basis:
        qc.h(0)
    if eve is not EveAction.NONE:
        # Measure-and-prepare: the projective measurement leaves the qubit in the eigenstate
        # Eve observed, which is exactly the state she resends.
        if eve is EveAction.MEASURE_X:
            qc.h(0)
        qc.measure(0, eve_reg[0])
        if eve is EveAction.MEASURE_X:
            qc.h(0)
    qc.id(0)  # the fibre and Bob's optics: the noise model attaches the misalignment here
    if bob_basis:
        qc.h(0)
    qc.measure(0, bob_reg[0])
    return qc


@functools.lru_cache(maxsize=64)
def _outcome_table_cached(misalignment: float) -> npt.NDArray[np.float64]:
    from qiskit.quantum_info import DensityMatrix, Kraus, Operator, Statevector

    hadamard = Operator.from_label("H")
    z_proj = [np.diag([1.0, 0.0]), np.diag([0.0, 1.0])]
    plus = np.array([[0.5, 0.5], [0.5, 0.5]])
    minus = np.array([[0.5, -0.5], [-0.5, 0.5]])
    eve_channels = {
        EveAction.MEASURE_Z: Kraus(z_proj),
        EveAction.MEASURE_X: Kraus([plus, minus]),
    }
    noise = misalignment_error(misalignment).to_quantumchannel()
    labels = {(0, 0): "0", (0, 1): "1", (1, 0): "+", (1, 1): "-"}
    table = np.zeros((2, 2, 3, 2), dtype=np.float64)
    for (basis, bit), label in labels.items():
        prepared = DensityMatrix(Statevector.from_label(label))
        for eve in EveAction:
            state = prepared if eve is EveAction.NONE else prepared.evolve(eve_channels[eve])
            state = state.evolve(noise)
            for bob_basis in (0, 1):
                measured = state.evolve(hadamard) if bob_basis else state
                table[basis, bit, int(eve), bob_basis] = float(measured.probabilities()[1])
    table.setflags(write=False)  # shared through the cache: nobody may modify it
    return table


def outcome_table(misalignment: float) -> npt.NDArray[np.float64]:
    """P(Bob reads 1) indexed [alice_basis, alice_bit, eve_action, bob_basis], from qiskit.

    Computed once per misalignment value by density-matrix evolution and cached.
    """
    if not 0.0 <= misalignment < 0.5:
        raise ValueError("misalignment must lie in [0, 0.5)")
    return _outcome_table_cached(float(misalignment))


def run_exact(
    alice_basis: Sequence[int] | npt.NDArray[np.uint8],
    alice_bit: Sequence[int] | npt.NDArray[np.uint8],
    eve: Sequence[int] | npt.NDArray[np.uint8],
    bob_basis: Sequence[int] | npt.NDArray[np.uint8],
    *,
    misalignment: float,
    seed: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Run one circuit per qubit on AerSimulator (one batched `run`, one shot each).

    Returns (Bob's bits, Eve's bits). Slow by design (about a millisecond a qubit): the
    reference the fast sampler is checked against.
    """
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    n = len(alice_basis)
    if not (len(alice_bit) == len(eve) == len(bob_basis) == n):
        raise ValueError("configuration arrays differ in length")
    if n == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.uint8)
    noise_model = NoiseModel(basis_gates=["id", "x", "h", "measure"])
    noise_model.add_all_qubit_quantum_error(misalignment_error(misalignment), [_MISALIGN_GATE])
    simulator = AerSimulator(noise_model=noise_model, seed_simulator=seed)
    circuits = [
        bb84_circuit(int(a), int(b), EveAction(int(e)), int(c))
        for a, b, e, c in zip(alice_basis, alice_bit, eve, bob_basis, strict=True)
    ]
    result = simulator.run(circuits, shots=1, memory=True).result()
    bob = np.empty(n, dtype=np.uint8)
    eve_bits = np.empty(n, dtype=np.uint8)
    for i in range(n):
        # Memory strings list registers last-added first: "bob eve".
        bob_str, eve_str = result.get_memory(i)[0].split(" ")
        bob[i] = int(bob_str)
        eve_bits[i] = int(eve_str)
    return bob, eve_bits
