"""The `qkdlink sim ...` commands, loaded by import string from `qkdlink.cli.sim`.

`qkdlink/` may not import `simulators/` (layering), so the CLI module only parses arguments
and calls these handlers through `importlib`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qkdlink.errors import ConfigurationError

__all__ = ["parse_range", "sim_keyrate"]


def parse_range(text: str) -> list[float]:
    """`START:STOP:STEP` (STOP included when on the grid) or a single value, in km."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise ConfigurationError(f"bad distance range {text!r}: use START:STOP:STEP") from exc
    if len(values) == 1:
        start = stop = values[0]
        step = 1.0
    elif len(values) == 3:
        start, stop, step = values
    else:
        raise ConfigurationError(f"bad distance range {text!r}: use START:STOP:STEP")
    if step <= 0 or stop < start or start < 0:
        raise ConfigurationError("distance range needs 0 <= START <= STOP and STEP > 0")
    count = int((stop - start) / step + 1e-9) + 1
    if count > 100_000:
        raise ConfigurationError("distance range has too many points")
    return [round(start + i * step, 9) for i in range(count)]


def sim_keyrate(args: argparse.Namespace) -> int:
    """Print the optimal asymptotic key rate per pulse at each distance; optionally plot."""
    from simulators.keyrate import DecoyMethod, optimal_key_rate
    from simulators.plots import plot_key_rate_vs_distance

    distances = parse_range(args.distance_km)
    method = DecoyMethod(args.decoy)
    points = [optimal_key_rate(d, method) for d in distances]
    records = [
        {
            "distance_km": p.distance_km,
            "decoy": method.value,
            "mu": p.mu,
            "key_rate_per_pulse": p.key_rate_per_pulse,
        }
        for p in points
    ]
    if args.json:
        json.dump(records, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"{'distance_km':>11}  {'mu':>8}  {'key_rate_per_pulse':>18}   ({method.value})")
        for r in records:
            print(f"{r['distance_km']:>11.2f}  {r['mu']:>8.4f}  {r['key_rate_per_pulse']:>18.4e}")
    if args.plot is not None:
        curves = {}
        for m in DecoyMethod:
            rates = [optimal_key_rate(d, m).key_rate_per_pulse for d in distances]
            curves[_METHOD_LABELS[m]] = (distances, rates)
        plot_key_rate_vs_distance(curves, Path(args.plot))
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


_METHOD_LABELS = {
    "infinite": "infinite decoys (asymptotic)",
    "vacuum-weak": "vacuum + weak decoy (ν = 0.1)",
    "none": "no decoys (GLLP)",
}
