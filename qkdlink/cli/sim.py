"""`qkdlink sim bb84 ...` and `qkdlink sim keyrate ...`: the simulated BB84 link.

The handlers live in `simulators.commands` and are loaded by import string, because the
runtime package may not import the simulators (layering); nothing heavy is imported until a
command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

from qkdlink.errors import ConfigurationError

BB84_HANDLER = "simulators.commands:sim_bb84"
KEYRATE_HANDLER = "simulators.commands:sim_keyrate"


def _load(spec: str) -> Callable[[argparse.Namespace], int]:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"the simulator is not installed ({exc.name}); install qkdlink[sim]"
        ) from exc
    handler: Callable[[argparse.Namespace], int] = getattr(module, attr)
    return handler


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must lie in [0, 1]")
    return value


def _positive_int(text: str) -> int:
    value = int(float(text))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sim", help="simulated decoy-state BB84 link (qiskit)")
    commands = parser.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    bb84 = commands.add_parser(
        "bb84", help="run one block through the quantum channel and the post-processing chain"
    )
    bb84.add_argument("--pulses", type=_positive_int, default=10**9, help="pulses (default 1e9)")
    bb84.add_argument("--distance-km", type=float, default=10.0, help="fibre length (km)")
    bb84.add_argument("--misalignment", type=float, default=0.033, help="e_d (default 0.033)")
    bb84.add_argument(
        "--eve-intercept", type=_fraction, default=0.0, help="fraction intercepted and resent"
    )
    bb84.add_argument("--eve-pns", action="store_true", help="photon-number-splitting attack")
    bb84.add_argument("--decoy", choices=["vacuum-weak", "none"], default="vacuum-weak")
    bb84.add_argument("--ec", choices=["cascade", "cascade-opt", "ldpc"], default="cascade-opt")
    bb84.add_argument("--seed", type=int, default=0, help="seed (same seed, same block)")
    bb84.add_argument("--json", action="store_true", help="print one JSON object")
    bb84.add_argument("--plot", type=Path, metavar="FILE.png", help="plot QBER vs Eve's fraction")
    bb84.set_defaults(handler=lambda args: _load(BB84_HANDLER)(args))

    keyrate = commands.add_parser("keyrate", help="asymptotic key rate per pulse vs distance")
    keyrate.add_argument(
        "--distance-km", required=True, metavar="START:STOP:STEP", help="distances (km)"
    )
    keyrate.add_argument(
        "--decoy", choices=["infinite", "vacuum-weak", "none"], default="vacuum-weak"
    )
    keyrate.add_argument("--json", action="store_true", help="print a JSON list of records")
    keyrate.add_argument("--plot", type=Path, metavar="FILE.png", help="plot all three methods")
    keyrate.set_defaults(handler=lambda args: _load(KEYRATE_HANDLER)(args))
