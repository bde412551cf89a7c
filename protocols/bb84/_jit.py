"""numba for the BB84 kernels, or plain Python where numba is missing (same results, slow).

numba is in the `sim` extra. `kernel(**options)` is `numba.njit(**options)` when numba is
installed; otherwise it returns the function itself, run with numpy's uint64 wrap-around (which
the compiled code relies on) not reported as overflow. `tests/protocols/bb84/test_jit.py` runs
the kernels with numba's JIT disabled and checks they give what the compiled ones give.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

numba: ModuleType | None
try:
    import numba
except ImportError:  # pragma: no cover - numba is in the `sim` extra
    numba = None

__all__ = ["kernel", "numba"]


def kernel(**options: Any) -> Callable[[Any], Any]:
    """The decorator compiling a kernel with `options` (or leaving it plain Python)."""
    if numba is None:  # pragma: no cover - numba is in the `sim` extra
        return _plain
    decorate: Callable[[Any], Any] = numba.njit(**options)
    return decorate


def _plain(function: Any) -> Any:  # pragma: no cover - numba is in the `sim` extra
    @functools.wraps(function)
    def wrapped(*args: Any) -> Any:
        with np.errstate(over="ignore"):
            return function(*args)

    return wrapped
