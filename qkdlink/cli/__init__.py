"""The `qkdlink` command line: one module per top-level command, each with `register()`.

A command module defines `register(subparsers)`, which adds its parser and sets `handler`, a
function `(argparse.Namespace) -> int` (the exit code). Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qkdlink.errors import QkdlinkError

# Top-level commands, each in its own module of this package (`qkdlink.cli.<name>`).
COMMAND_MODULES: tuple[str, ...] = ()


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every command module registered."""
    parser = argparse.ArgumentParser(
        prog="qkdlink", description="QKD-keyed key delivery and secure channels."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
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
