"""protocols/ stays sans-IO: no module imports sockets, event loops, clocks, threads or processes
(read from the source with ast, so an import inside a function or a lazy import_module counts)."""

from __future__ import annotations

import ast
from pathlib import Path

import protocols

FORBIDDEN = frozenset({"socket", "asyncio", "ssl", "selectors", "time", "threading", "subprocess"})
ROOT = Path(protocols.__file__).parent


def imported_modules(source: str) -> set[str]:
    """Absolute module names imported anywhere in `source` (statements, importlib, __import__)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (
                    isinstance(node.func, ast.Name)
                    and node.func.id in {"__import__", "import_module"}
                )
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
        ):
            names.add(node.args[0].value)
    return names


def test_the_scan_sees_every_kind_of_import() -> None:
    source = (
        "import os.path, socket as s\n"
        "from time import monotonic\n"
        "from . import sibling\n"
        "def later():\n"
        "    import threading\n"
        "    importlib.import_module('asyncio')\n"
        "    __import__('subprocess')\n"
    )
    assert imported_modules(source) == {
        "os.path",
        "socket",
        "time",
        "threading",
        "asyncio",
        "subprocess",
    }


def test_protocols_import_no_io() -> None:
    modules = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)
    assert len(modules) > 20
    assert ROOT / "bb84" / "_endpoint.py" in modules
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in imported_modules(path.read_text(encoding="utf-8"))
            if name.split(".")[0] in FORBIDDEN
        )
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}
