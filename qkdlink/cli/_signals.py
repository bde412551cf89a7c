"""Waiting for SIGINT/SIGTERM inside asyncio, for long-running commands."""

from __future__ import annotations

import asyncio
import signal


async def run_until_signal() -> None:
    """Return when SIGINT or SIGTERM arrives (handlers removed afterwards)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
