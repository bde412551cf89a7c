"""The `mesh` benchmark runs in quick mode and yields well-formed records."""

import math

from benchmarks import BenchOptions
from benchmarks.mesh import BENCHMARKS


def test_mesh_quick_records_are_well_formed() -> None:
    records = BENCHMARKS["mesh"](BenchOptions(quick=True))
    assert records
    for r in records:
        assert r.benchmark == "mesh"
        assert math.isfinite(r.value)
        assert r.value > 0
        assert r.baseline_value is not None
        assert r.ratio is not None
        assert math.isfinite(r.ratio)
