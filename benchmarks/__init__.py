"""qkdlink's benchmarks: every figure is measured beside its baseline in the same run.

Each module here (not starting with `_`) defines `BENCHMARKS`, a mapping from a benchmark name
to a function `(BenchOptions) -> list[Record]`. Heavy imports go inside those functions so the
harness starts even where an extra is missing. Run `python -m benchmarks [NAME ...] [--quick]`.
"""

from benchmarks._harness import BenchOptions, Record, compare, discover, interleaved_medians

__all__ = ["BenchOptions", "Record", "compare", "discover", "interleaved_medians"]
