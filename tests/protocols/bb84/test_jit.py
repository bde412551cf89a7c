"""Without numba the BB84 kernels run as plain Python and give exactly the compiled results."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def workload() -> dict[str, object]:
    """Cascade (both variants), sifting and privacy amplification on small inputs: digests."""
    from protocols.bb84 import _gf2, _jit
    from protocols.bb84._cascade import CascadeAlice, CascadeBob, build_layouts, split_frames
    from protocols.bb84._sift import sift
    from protocols.bb84._toeplitz import privacy_amplify

    rng = np.random.default_rng(2026)
    out: dict[str, object] = {"numba": _jit.numba is not None, "clmul": _gf2.available()}
    alice = rng.integers(0, 2, 5000, dtype=np.uint8)
    bob_bits = alice ^ (rng.random(5000) < 0.03).astype(np.uint8)
    for variant in ("cascade", "cascade-opt"):
        cuts = split_frames(5000, 2048)
        oracle = CascadeAlice(alice, build_layouts(cuts, 0.03, variant, b"s" * 16))  # type: ignore[arg-type]
        tops = oracle.top_parities()
        bob = CascadeBob(
            bob_bits.copy(),
            build_layouts(cuts, 0.03, variant, b"s" * 16),  # type: ignore[arg-type]
            tops,
            reuse=variant == "cascade-opt",
        )
        transcript = hashlib.sha256(np.asarray(tops).tobytes())
        rounds = 0
        while (queries := bob.next_queries()) is not None:
            replies = oracle.answer(*queries)
            for part in (*queries, replies):
                transcript.update(np.asarray(part).tobytes())
            bob.apply_replies(replies)
            rounds += 1
        corrected = bool(np.array_equal(bob.bits, alice))
        out[variant] = [transcript.hexdigest(), rounds, oracle.disclosed, corrected]
    mine = rng.integers(0, 2, 10_000, dtype=np.uint8)
    theirs = rng.integers(0, 2, 10_000, dtype=np.uint8)
    classes = rng.integers(0, 3, 10_000, dtype=np.uint8)
    sifted = sift(mine, theirs, rng.integers(0, 2, 10_000, dtype=np.uint8), classes, 3)
    digest = hashlib.sha256()
    for part in (sifted.key, sifted.test, sifted.test_class, np.array(sifted.key_per_class)):
        digest.update(np.ascontiguousarray(part).tobytes())
    out["sift"] = digest.hexdigest()
    key = rng.integers(0, 2, 20_000, dtype=np.uint8)
    hashed = privacy_amplify(key, rng.integers(0, 2, 19_999, dtype=np.uint8), 9_000)
    out["pa"] = hashlib.sha256(hashed.tobytes()).hexdigest()
    return out


def test_plain_python_kernels_match_the_compiled_ones() -> None:
    script = (
        "import json, sys; sys.modules['numba'] = None; "
        "from tests.protocols.bb84.test_jit import workload; print(json.dumps(workload()))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    plain = json.loads(done.stdout)
    compiled = workload()
    assert (plain["numba"], plain["clmul"]) == (False, False)
    assert compiled["numba"] is True
    for name in ("cascade", "cascade-opt", "sift", "pa"):
        assert plain[name] == compiled[name], name
    assert compiled["cascade-opt"][3] is True  # type: ignore[index]
