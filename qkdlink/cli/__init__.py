"""The `qkdlink` command line: one module per top-level command, each with `register()`.

Every module of this package whose name does not start with `_` is a command module: it defines
`register(subparsers)`, which adds its parser and sets `handler`, a function
`(argparse.Namespace) -> int` (the exit code). Heavy imports go inside the handlers, so that
`qkdlink --help` is fast and works without optional extras. Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from qkdlink.errors import QkdlinkError


def command_modules() -> list[str]:
    """Names of the command modules of this package, sorted (so `--help` lists them stably)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command module registered."""
    parser = argparse.ArgumentParser(
        prog="qkdlink", description="QKD-keyed key delivery and secure channels."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(f"qkdlink.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qkdlink` script; errors of ours become one line on stderr, exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except QkdlinkError as exc:
        print(f"qkdlink: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
