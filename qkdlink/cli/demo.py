"""`qkdlink demo`: the three-hospital scenario (issue 5) on embedded defaults, or the round trip.

By default: three hospitals, each behind its own KME (in-process lab, SQLite stores, simulated
BB84 links when the simulator is installed), train a model jointly by secure aggregation, run a
CKKS private diagnosis and an MPyC secure mean over quantum-keyed channels, and print a report.
`--round-trip` runs the first version of this demo instead: one enc_keys/dec_keys round trip
through a two-node lab. The scenario lives in `integrations.hospitals` and is loaded by import
string (the `qkdlink` package never imports `integrations` directly).
"""

from __future__ import annotations

import argparse
import importlib

_SCENARIO = "integrations.hospitals:run_demo"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the three-hospital scenario (or the key round trip) on embedded defaults"
    )
    parser.add_argument("--transport", choices=("tcp", "mqtt"), default="tcp")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--key-source",
        choices=("auto", "bb84", "test"),
        default="auto",
        help="QKD link simulation: bb84 if the simulator is installed (auto), or the test source",
    )
    parser.add_argument("--rounds", type=int, default=300, help="training rounds (default 300)")
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument(
        "--round-trip", action="store_true", help="only the two-node key-delivery round trip"
    )
    parser.add_argument("--number", type=int, default=4, help="round trip: keys to deliver")
    parser.add_argument("--size", type=int, default=256, help="round trip: key size in bits")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    if args.round_trip:
        from qkdlink.lab._demo import key_delivery_round_trip

        return asyncio.run(key_delivery_round_trip(number=args.number, size=args.size, out=print))
    module_name, _, attribute = _SCENARIO.partition(":")
    run_demo = getattr(importlib.import_module(module_name), attribute)
    code: int = run_demo(
        transport=args.transport,
        json_output=args.json,
        key_source=args.key_source,
        rounds=args.rounds,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
    )
    return code
