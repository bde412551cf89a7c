"""The benchmark harness: discovery, side-by-side timing helpers, the record format, output."""

from __future__ import annotations

import importlib
import json
import pkgutil
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """How a benchmark run is asked for."""

    quick: bool = False
    """Smaller counts, for smoke tests in CI; figures are then indicative only."""


@dataclass(frozen=True, slots=True)
class Record:
    """One figure and its baseline, as written by `--json` (a contract: keys never change)."""

    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: str
    """What the value is compared with, measured in the same run."""
    baseline_value: float | None
    ratio: float | None
    """value / baseline_value (for times the benchmark states which way is better in target)."""
    target: str
    """The number the issue asks for, in words, e.g. "<= 2 ms and ratio <= 1.5"."""
    met: bool | None = None
    """Whether the target was reached in this run; shown in the table, not in the JSON record."""

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        del data["met"]
        return data


BenchmarkFn = Callable[[BenchOptions], list[Record]]


def compare(
    benchmark: str,
    metric: str,
    value: float,
    unit: str,
    *,
    baseline: str,
    baseline_value: float | None,
    target: str,
    met: bool | None,
) -> Record:
    """Build a record with its ratio computed."""
    ratio = value / baseline_value if baseline_value else None
    return Record(benchmark, metric, value, unit, baseline, baseline_value, ratio, target, met)


def interleaved_medians(
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    rounds: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """Median seconds of `candidate` and `baseline`, run alternately so noise hits both alike.

    `clock` is wall time by default; pass `time.process_time` for CPU seconds ("on one core"
    figures, where wall time on a shared machine mostly measures the other tenants).
    """
    cand: list[float] = []
    base: list[float] = []
    for _ in range(rounds):
        start = clock()
        candidate()
        cand.append(clock() - start)
        start = clock()
        baseline()
        base.append(clock() - start)
    return statistics.median(cand), statistics.median(base)


def discover() -> dict[str, BenchmarkFn]:
    """All benchmarks of the modules in this package, by name."""
    import benchmarks

    found: dict[str, BenchmarkFn] = {}
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        table: Mapping[str, BenchmarkFn] = getattr(module, "BENCHMARKS", {})
        for name, fn in table.items():
            if name in found:
                raise RuntimeError(f"benchmark {name!r} defined twice")
            found[name] = fn
    return found


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def format_table(records: Iterable[Record]) -> str:
    """A plain-text table of records."""
    header = (
        "benchmark",
        "metric",
        "value",
        "unit",
        "baseline",
        "baseline value",
        "ratio",
        "target",
        "met",
    )
    rows = [header]
    for r in records:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append(
            (
                r.benchmark,
                r.metric,
                _fmt(r.value),
                r.unit,
                r.baseline,
                _fmt(r.baseline_value),
                _fmt(r.ratio),
                r.target,
                met,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(records: Iterable[Record], path: Path) -> None:
    """Write the records as a JSON list (the `--json OUT` contract)."""
    path.write_text(json.dumps([r.to_json() for r in records], indent=2) + "\n")
