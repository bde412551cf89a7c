"""`qkdlink kme serve --config kme.toml`: run one KME until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("kme", help="run a KME (ETSI GS QKD 014 key delivery)")
    commands = parser.add_subparsers(dest="kme_command", metavar="SUBCOMMAND", required=True)
    serve = commands.add_parser("serve", help="serve keys until SIGINT/SIGTERM")
    serve.add_argument("--config", type=Path, required=True, help="KME config (TOML)")
    serve.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from qkdlink.cli._signals import run_until_signal
    from qkdlink.kme import KmeServer, load_config

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    config = load_config(args.config)

    async def main() -> None:
        async with KmeServer(config) as kme:
            print(f"{config.kme_id} listening on {kme.url}", flush=True)
            await run_until_signal()

    asyncio.run(main())
    return 0
