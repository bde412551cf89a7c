"""The `qkdlink sim ...` commands, loaded by import string from `qkdlink.cli.sim`.

`qkdlink/` may not import `simulators/` (layering), so the CLI module only parses arguments
and calls these handlers through `importlib`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qkdlink.errors import ConfigurationError

if TYPE_CHECKING:
    from simulators.bb84 import LinkConfig

__all__ = ["parse_range", "qber_sweep", "sim_bb84", "sim_keyrate"]


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


def qber_sweep(
    distance_km: float, misalignment: float, *, seed: int, points: int = 11
) -> tuple[list[float], list[float], list[float]]:
    """Measured and predicted signal QBER for Eve intercepting a fraction x in [0, 1]."""
    import math

    import numpy as np

    from simulators.bb84 import LinkConfig, simulate

    fractions = [i / (points - 1) for i in range(points)]
    measured: list[float] = []
    predicted: list[float] = []
    base = LinkConfig(distance_km=distance_km, misalignment=misalignment, seed=seed)
    mu, eta = base.signal_intensity, base.transmittance
    photon = -math.expm1(-eta * mu)
    background = base.dark_count_prob * math.exp(-eta * mu)
    gain = photon + background
    e_zero = (misalignment * photon + 0.5 * background) / gain
    # Enough pulses for ~70k sifted signal bits per point (σ of the QBER ≈ 0.002).
    pulses = int(min(max(2e5 / gain, 1e6), 5e9))
    for i, x in enumerate(fractions):
        record = simulate(
            base.with_(eve_intercept_fraction=x),
            pulses,
            rng=np.random.default_rng(np.random.SeedSequence([seed, 0x51, i])),
        )
        measured.append(record.qber(0))
        predicted.append(e_zero + x * (photon / gain) * (0.25 - misalignment / 2))
    return fractions, measured, predicted


def sim_bb84(args: argparse.Namespace) -> int:
    """Run one block through the channel and both ends' post-processing; print a summary."""
    from tqdm import tqdm

    from simulators.bb84 import DecoyScheme, LinkConfig, auth_material, block_rng, run_block
    from simulators.plots import plot_block_summary

    config = LinkConfig(
        distance_km=args.distance_km,
        misalignment=args.misalignment,
        eve_intercept_fraction=args.eve_intercept,
        eve_pns=args.eve_pns,
        decoy=DecoyScheme(args.decoy),
        seed=args.seed,
    )
    with tqdm(
        total=args.pulses, unit="pulse", unit_scale=True, file=sys.stderr, desc="bb84"
    ) as bar:
        result = run_block(
            config,
            args.pulses,
            rng=block_rng(args.seed, 0),
            auth_key=auth_material(args.seed, 0),
            reconciliation=args.ec,
            progress=bar.update,
        )
        bar.set_postfix_str("post-processing done")
    summary = result.summary()
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    else:
        _print_summary(summary)
    if args.plot is not None:
        fractions, measured, predicted = qber_sweep(
            args.distance_km, args.misalignment, seed=args.seed
        )
        point = (config.distance_km, result.secret_key_rate_per_pulse)
        label = "this block (aborted)" if result.aborted else "this block (finite key)"
        plot_block_summary(
            _model_curves(config),
            None if result.aborted else point,
            fractions,
            measured,
            predicted,
            Path(args.plot),
            block_label=label,
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _model_curves(config: LinkConfig) -> dict[str, tuple[list[float], list[float]]]:
    """Asymptotic key-rate curves for this link's devices (the three decoy methods)."""
    from simulators.keyrate import DecoyMethod, optimal_key_rate

    device = config.device_parameters()
    stop = max(150.0, config.distance_km + 10.0)
    distances = [2.0 * i for i in range(int(stop / 2.0) + 1)]
    return {
        _METHOD_LABELS[m.value]: (
            distances,
            [optimal_key_rate(d, m, device).key_rate_per_pulse for d in distances],
        )
        for m in DecoyMethod
    }


def _print_summary(summary: dict[str, object]) -> None:
    order = [
        "pulses",
        "detections",
        "sifted_bits",
        "qber",
        "ec_leaked_bits",
        "ec_efficiency",
        "ec_frame_error",
        "final_key_bits",
        "net_key_bits",
        "secret_key_rate_per_pulse",
        "secret_key_rate_bps",
        "classical_bytes",
        "round_trips",
        "aborted",
        "abort_reason",
        "keys_equal",
    ]
    for key in order:
        value = summary[key]
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        print(f"{key:>26}: {text}")
    model = summary["model"]
    if isinstance(model, dict):
        print(f"{'model verdict':>26}: accepted={model['accepted']} insecure={model['insecure']}")


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
    "vacuum-weak": "vacuum + weak decoy",
    "none": "no decoys (GLLP)",
}
