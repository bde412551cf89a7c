"""Running a lab: one KME per node, in this process or as subprocesses.

    spec = create_lab(tmp_dir, nodes=("hospital-a", "hospital-b"))
    async with run_lab(spec) as lab:              # in-process KMEs on this event loop
        url = lab.spec.node("hospital-a").kme_url

Subprocess mode (`mode="subprocess"`) runs `python -m qkdlink kme serve --config ...` per node,
so a node can be killed with SIGKILL and restarted (`kill_node`, `start_node`) as a crash test.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Literal
from urllib.parse import urlsplit

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import LinkStatistics
from qkdlink.kme import DeliveredKeys, KmeServer, load_config
from qkdlink.lab._layout import LabSpec

__all__ = ["Lab", "run_lab"]

_START_TIMEOUT_S = 30.0


async def _wait_listening(url: str, process: asyncio.subprocess.Process | None) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        if process is not None and process.returncode is not None:
            raise ConfigurationError(f"KME at {url} exited with code {process.returncode}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if time.monotonic() > deadline:
                raise ConfigurationError(f"KME at {url} did not start") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


class Lab:
    """A running lab: its spec, and control over its nodes."""

    def __init__(self, spec: LabSpec, mode: Literal["inprocess", "subprocess"]) -> None:
        self.spec = spec
        self.mode = mode
        self.servers: dict[str, KmeServer] = {}
        """In-process mode: the running KME of each node."""
        self._processes: dict[str, asyncio.subprocess.Process] = {}

    async def start_node(self, name: str) -> None:
        """Start (or restart) the KME of node `name` and wait until it accepts connections.

        Raises:
            ConfigurationError: unknown node, or the KME did not come up.
        """
        node = self.spec.node(name)
        if self.mode == "inprocess":
            server = KmeServer(load_config(node.config))
            await server.start()
            self.servers[name] = server
            return
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "qkdlink",
            "kme",
            "serve",
            "--config",
            str(node.config),
            stdin=asyncio.subprocess.DEVNULL,
        )
        self._processes[name] = process
        await _wait_listening(node.kme_url, process)

    def _server(self, name: str, what: str) -> KmeServer:
        self.spec.node(name)
        server = self.servers.get(name)
        if server is None:
            if self.mode == "subprocess":
                raise ConfigurationError(f"{what} needs an in-process lab")
            raise ConfigurationError(f"lab node {name!r} is not running")
        return server

    def delivered_keys(self, name: str) -> DeliveredKeys:
        """Keys node `name`'s KME delivered since it (last) started, as the KME counted them.

        Raises:
            ConfigurationError: unknown or stopped node, or a subprocess lab (its KMEs' counters
                live in other processes).
        """
        return self._server(name, "delivered_keys").delivered

    def link_statistics(
        self, name: str, link_id: str, attempts: int | None = None
    ) -> LinkStatistics | None:
        """What the key source of link `link_id` at node `name`'s KME reports so far (since that
        KME last started), or after `attempts` attempts; None for sources that do not report
        (test, file) or before that point.

        Raises:
            ConfigurationError: unknown or stopped node, a link the node does not have, or a
                subprocess lab (its key sources live in other processes).
        """
        return self._server(name, "link_statistics").link_statistics(link_id, attempts)

    async def stop_node(self, name: str) -> None:
        """Stop a node cleanly (SIGTERM / aclose)."""
        if name in self.servers:
            await self.servers.pop(name).aclose()
        process = self._processes.pop(name, None)
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def kill_node(self, name: str) -> None:
        """Crash a subprocess node with SIGKILL (no clean-up runs in the KME).

        Raises:
            ConfigurationError: the lab runs in-process.
        """
        process = self._processes.pop(name, None)
        if process is None:
            raise ConfigurationError("kill_node needs a subprocess lab")
        process.kill()
        await process.wait()

    async def start(self) -> None:
        """Start every node."""
        try:
            for node in self.spec.nodes:
                await self.start_node(node.name)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop every node."""
        for name in [*self.servers, *self._processes]:
            await self.stop_node(name)


@contextlib.asynccontextmanager
async def run_lab(
    spec: LabSpec, *, mode: Literal["inprocess", "subprocess"] = "inprocess"
) -> AsyncIterator[Lab]:
    """Run every KME of a lab for the duration of the `async with` block.

    Raises:
        ConfigurationError: a KME could not start.
    """
    lab = Lab(spec, mode)
    await lab.start()
    try:
        yield lab
    finally:
        await lab.aclose()
