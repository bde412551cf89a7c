"""`qkdlink demo`: the key-delivery round trip on embedded defaults (issue 2, point 6).

A two-node lab (test key source, SQLite stores) in a temporary directory: the master SAE gets
keys with enc_keys at its KME, the slave gets the same keys by ID with dec_keys at its own KME.
Key bytes are never printed, only their IDs and whether SHA-256 fingerprints match.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the demo on embedded defaults")
    parser.add_argument("--number", type=int, default=4, help="keys to deliver (default 4)")
    parser.add_argument("--size", type=int, default=256, help="key size in bits (default 256)")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from qkdlink.lab._demo import key_delivery_round_trip

    return asyncio.run(key_delivery_round_trip(number=args.number, size=args.size, out=print))
