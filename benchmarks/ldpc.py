"""`ldpc`: LDPC reconciliation efficiency, frame error rate and throughput beside Cascade.

Random key pairs at QBER 2 % (the `cascade` benchmark's setting) are reconciled with the LDPC
engines (`protocols.bb84._ldpc`, design error rate as the endpoints choose it: the QBER plus one
binomial deviation of a test sample as large as the key) and, on the same keys and error
patterns, with optimised Cascade (`cascade-opt`) as the baseline; frames that fail get syndrome
increments as the endpoints give them (each a round trip). Efficiency f = leaked /
(n h(Q)) uses each key's actual error rate and is averaged over the keys that decoded; the frame
error rate counts keys with a frame that did not decode after every increment (the endpoints
discard such a block).
Throughput is reconciled key bits per CPU-second of both ends' engines in one process.
"""

from __future__ import annotations

import math
import time

from benchmarks._harness import BenchOptions, Record, compare

_QBER = 0.02


def _entropy(p: float) -> float:
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p) if 0 < p < 1 else 0.0


def _run(n: int, keys: int, method: str, seed: int) -> tuple[list[float], int, float]:
    """Reconcile `keys` random key pairs of n bits; (efficiencies, failed keys, CPU seconds)."""
    import numpy as np

    from protocols.bb84._cascade import CascadeAlice, CascadeBob, build_layouts, split_frames
    from protocols.bb84._ldpc import LdpcAlice, LdpcBob, LdpcFrameError, design_qber

    rng = np.random.default_rng(seed)
    efficiencies: list[float] = []
    failed = 0
    cpu = 0.0
    for _ in range(keys):
        alice = rng.integers(0, 2, n, dtype=np.uint8)
        errors = (rng.random(n) < _QBER).astype(np.uint8)
        code_seed = rng.bytes(16)
        shannon = n * _entropy(int(errors.sum()) / n)
        start = time.process_time()
        if method == "ldpc":
            q = design_qber(_QBER, n)
            ldpc_alice = LdpcAlice(alice, q, code_seed, 1 << 15)
            ldpc_bob = LdpcBob(alice ^ errors, q, code_seed, 1 << 15, ldpc_alice.top_parities())
            try:
                while (asked := ldpc_bob.next_queries()) is not None:
                    ldpc_bob.apply_replies(ldpc_alice.answer(*asked))
                bob_bits = ldpc_bob.bits
            except LdpcFrameError:
                failed += 1
                cpu += time.process_time() - start
                continue
            leaked = ldpc_alice.disclosed
        else:
            cuts = split_frames(n, 1 << 17)
            oracle = CascadeAlice(alice, build_layouts(cuts, _QBER, "cascade-opt", code_seed))
            tops = oracle.top_parities()
            layouts = build_layouts(cuts, _QBER, "cascade-opt", code_seed)
            bob = CascadeBob(alice ^ errors, layouts, tops, reuse=True)
            while (queries := bob.next_queries()) is not None:
                bob.apply_replies(oracle.answer(*queries))
            bob_bits, leaked = bob.bits, int(tops.shape[0]) + bob.queries
        cpu += time.process_time() - start
        if not np.array_equal(bob_bits, alice):
            failed += 1
        elif shannon > 0:
            efficiencies.append(leaked / shannon)
    return efficiencies, failed, cpu


def bench_ldpc(options: BenchOptions) -> list[Record]:
    records: list[Record] = []
    plan = [(10_000, 4), (100_000, 1)] if options.quick else [(10_000, 200), (100_000, 20)]
    for n, keys in plan:
        ldpc_f, ldpc_failed, ldpc_cpu = _run(n, keys, "ldpc", seed=n)
        casc_f, casc_failed, casc_cpu = _run(n, keys, "cascade-opt", seed=n)
        f = sum(ldpc_f) / len(ldpc_f) if ldpc_f else math.inf
        f0 = sum(casc_f) / len(casc_f)
        records.append(
            compare(
                "ldpc",
                f"efficiency_n{n}",
                f,
                "f",
                baseline=f"cascade-opt on the same {keys} keys",
                baseline_value=f0,
                target="<= 1.3 at QBER 2 % (simple random irregular codes)",
                met=f <= 1.3,
            )
        )
        records.append(
            compare(
                "ldpc",
                f"frame_error_rate_n{n}",
                ldpc_failed / keys,
                "keys",
                baseline=f"cascade-opt, same {keys} keys",
                baseline_value=casc_failed / keys,
                target="<= 1e-2 (a failed frame discards its block)",
                met=ldpc_failed / keys <= 1e-2,
            )
        )
        rate = n * keys / ldpc_cpu / 1e6
        records.append(
            compare(
                "ldpc",
                f"throughput_n{n}",
                rate,
                "Mbit/s",
                baseline="cascade-opt, same keys",
                baseline_value=n * keys / casc_cpu / 1e6,
                target=">= 1 Mbit/s of reconciled key on one core",
                met=rate >= 1.0,
            )
        )
    return records


BENCHMARKS = {"ldpc": bench_ldpc}
