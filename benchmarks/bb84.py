"""`bb84-quantum` and `bb84-pipeline`: the simulated BB84 link against its real-time targets.

`bb84-quantum` counts emitted pulses simulated per CPU-second (time.process_time, all threads)
at 50 km with vacuum + weak decoys. The baseline, measured in the same run on a small count, is
the textbook qiskit way: one circuit per pulse on AerSimulator (batched in one `run` call),
photon number and loss drawn per pulse.

`bb84-pipeline` runs whole blocks (channel, sifting, decoy estimation, Cascade, verification,
privacy amplification, authentication) at 10 km for a 1 GHz source and compares the final key
produced per CPU-second with the link's own secret key rate (final bits per second of link
time): a ratio >= 1 means the simulation keeps up with the hardware it stands in for.
"""

from __future__ import annotations

import time

from benchmarks._harness import BenchOptions, Record, compare

_QUANTUM_TARGET = ">= 1e9 pulses per CPU-second"
_PIPELINE_TARGET = "ratio >= 1 (keeps up with the link)"


def _textbook_pulses_per_cpu_second(pulses: int, seed: int) -> float:
    """One Aer circuit per emitted pulse: prepare, channel noise, measure; loss drawn per pulse."""
    import numpy as np
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    from simulators.bb84 import EveAction, LinkConfig, bb84_circuit
    from simulators.bb84._qubit import misalignment_error

    config = LinkConfig(distance_km=50.0)
    rng = np.random.default_rng(seed)
    start = time.process_time()
    noise_model = NoiseModel(basis_gates=["id", "x", "h", "measure"])
    noise_model.add_all_qubit_quantum_error(misalignment_error(config.misalignment), ["id"])
    simulator = AerSimulator(noise_model=noise_model, seed_simulator=seed)
    classes = config.pulse_classes
    probabilities = [c.probability for c in classes]
    circuits = []
    clicks = []
    for _ in range(pulses):
        k = int(rng.choice(len(classes), p=probabilities))
        photons = int(rng.poisson(classes[k].intensity))
        arrived = int(rng.binomial(photons, config.transmittance))
        clicks.append(arrived > 0 or rng.random() < config.dark_count_prob)
        basis, bit, bob_basis = (int(x) for x in rng.integers(0, 2, size=3))
        circuits.append(bb84_circuit(basis, bit, EveAction.NONE, bob_basis))
    result = simulator.run(circuits, shots=1, memory=True).result()
    outcomes = [result.get_memory(i)[0] for i in range(pulses)]
    elapsed = time.process_time() - start
    if len(outcomes) != len(clicks):
        raise RuntimeError("textbook baseline lost results")
    return pulses / elapsed


def bench_bb84_quantum(options: BenchOptions) -> list[Record]:
    import numpy as np

    from simulators.bb84 import LinkConfig, simulate

    config = LinkConfig(distance_km=50.0)
    pulses = 2 * 10**8 if options.quick else 4 * 10**9
    baseline_pulses = 200 if options.quick else 3000
    rng = np.random.default_rng(2026)
    simulate(config, 10**6, rng=rng)  # warm the qiskit outcome table (computed once per e_d)
    start = time.process_time()
    record = simulate(config, pulses, rng=rng)
    elapsed = time.process_time() - start
    rate = pulses / elapsed
    if record.detections == 0:
        raise RuntimeError("no detections: the benchmark configuration is broken")
    baseline = _textbook_pulses_per_cpu_second(baseline_pulses, seed=7)
    return [
        compare(
            "bb84-quantum",
            "emitted_pulses_per_cpu_second_50km_decoy",
            rate,
            "pulses/CPU-s",
            baseline=f"one Aer circuit per pulse ({baseline_pulses} pulses), same run",
            baseline_value=baseline,
            target=_QUANTUM_TARGET,
            met=rate >= 1e9,
        )
    ]


BENCHMARKS = {"bb84-quantum": bench_bb84_quantum}
