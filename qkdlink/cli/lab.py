"""`qkdlink lab up`: create a lab (PKI, configs, lab.json) and run its KMEs until a signal."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("lab", help="run a local test lab of KMEs")
    commands = parser.add_subparsers(dest="lab_command", metavar="SUBCOMMAND", required=True)
    up = commands.add_parser("up", help="create a lab in DIR and run it until SIGINT/SIGTERM")
    up.add_argument("--dir", type=Path, required=True, help="lab directory (created)")
    up.add_argument(
        "--nodes",
        default="hospital-a,hospital-b,hospital-c",
        help="comma-separated node names (default: %(default)s)",
    )
    up.add_argument(
        "--links", default=None, help="comma-separated node pairs a:b (default: every pair)"
    )
    up.add_argument("--key-source", choices=("test", "file", "bb84"), default="test")
    up.add_argument("--distance-km", type=float, default=None, help="fibre length of bb84 links")
    up.add_argument(
        "--in-process", action="store_true", help="run the KMEs in this process, not as children"
    )
    up.set_defaults(handler=_up)


def _parse_links(text: str | None) -> list[tuple[str, str]] | None:
    from qkdlink.errors import ConfigurationError

    if text is None:
        return None
    links = []
    for item in text.split(","):
        a, sep, b = item.strip().partition(":")
        if not sep or not a or not b:
            raise ConfigurationError(f"a link is written a:b, not {item!r}")
        links.append((a, b))
    return links


def _up(args: argparse.Namespace) -> int:
    import asyncio

    from qkdlink.cli._signals import run_until_signal
    from qkdlink.lab import create_lab, run_lab

    nodes = [n.strip() for n in args.nodes.split(",") if n.strip()]
    spec = create_lab(
        args.dir,
        nodes=nodes,
        links=_parse_links(args.links),
        key_source=args.key_source,
        distance_km=args.distance_km,
    )

    async def main() -> None:
        async with run_lab(spec, mode="inprocess" if args.in_process else "subprocess"):
            for node in spec.nodes:
                print(f"{node.name}: {node.kme_id} at {node.kme_url} (SAE {node.sae_id})")
            print(f"lab.json: {spec.directory / 'lab.json'}", flush=True)
            await run_until_signal()
        print("lab stopped", flush=True)

    asyncio.run(main())
    return 0
