"""Run an unmodified MPyC program at one party, its connections forwarded through a mesh.

MPyC party i listens on its own port for lower-ranked parties and dials the host:port given for
each higher-ranked party (`-P` list). Here every `-P` entry of a peer points at this party's
local tunnel port for that peer, and the tunnel delivers incoming streams to MPyC's own port,
so all MPyC traffic travels over the mesh's quantum-keyed channels. MPyC itself is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Sequence

from qkdlink.errors import ConfigurationError, QkdlinkError
from qkdlink.mesh import Mesh, TunnelConfig, run_tunnel

__all__ = ["MpycRunError", "mpyc_party_argv", "run_mpyc_party"]


class MpycRunError(QkdlinkError):
    """The MPyC program failed or timed out; `output` holds what it printed (no secrets)."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def mpyc_party_argv(index: int, addresses: Sequence[tuple[str, int]]) -> list[str]:
    """MPyC's options for party `index`: `-I index` and one `-P host:port` per party."""
    if not 0 <= index < len(addresses):
        raise ConfigurationError("party index out of range")
    argv = ["-I", str(index)]
    for host, port in addresses:
        argv += ["-P", f"{host}:{port}"]
    return argv


async def run_mpyc_party(
    mesh: Mesh,
    program: Sequence[str],
    *,
    host: str = "127.0.0.1",
    time_limit: float = 120.0,
    python: str = sys.executable,
) -> str:
    """Run `python *program <MPyC options>` as this mesh party, tunnelled; return its stdout.

    `program` is e.g. `["-m", "integrations.mpyc.secure_mean", "--sum", "3", "--count", "2"]`.
    The party index is this party's rank in the mesh.

    Raises:
        MpycRunError: the program exited non-zero or did not finish within `time_limit` seconds.
        PartyDisconnectedError: a peer's link broke while MPyC traffic was in flight.
    """
    mpyc_port = _free_port(host)
    config = TunnelConfig(
        dict.fromkeys(mesh.peers, (host, 0)), (host, mpyc_port), streams_per_peer=1
    )
    bound = asyncio.Event()
    process: asyncio.subprocess.Process | None = None
    tunnel = asyncio.create_task(
        run_tunnel(mesh, config, on_listening=lambda _ports: bound.set()),
        name=f"mpyc-tunnel-{mesh.party}",
    )
    try:
        waiter = asyncio.create_task(bound.wait())
        await asyncio.wait({tunnel, waiter}, return_when="FIRST_COMPLETED")
        waiter.cancel()
        if not bound.is_set():
            await tunnel  # the tunnel ended before binding: raise its error
        addresses = [
            (host, mpyc_port) if p == mesh.party else (host, config.listen_ports[p])
            for p in mesh.config.parties
        ]
        argv = [*program, *mpyc_party_argv(mesh.config.rank, addresses)]
        process = await asyncio.create_subprocess_exec(
            python, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        stdout = process.stdout
        if stdout is None:  # cannot happen with stdout=PIPE; keeps the type checker honest
            raise MpycRunError("no stdout pipe to the MPyC process")
        reading = asyncio.create_task(stdout.read(), name=f"mpyc-out-{mesh.party}")
        try:
            await asyncio.wait_for(process.wait(), time_limit)
        except TimeoutError:
            process.kill()
            await process.wait()
            partial = (await reading).decode(errors="replace")
            raise MpycRunError(
                f"MPyC party {mesh.party} timed out after {time_limit:g} s", partial
            ) from None
        output = await reading
        text = output.decode(errors="replace")
        if process.returncode != 0:
            raise MpycRunError(f"MPyC party {mesh.party} exited with {process.returncode}", text)
        await asyncio.wait_for(tunnel, time_limit)
        return text
    finally:
        if process is not None and process.returncode is None:
            # Cancelled (or failed) while MPyC runs: never leave the program behind.
            process.kill()
            await process.wait()
        if not tunnel.done():
            tunnel.cancel()
            with contextlib.suppress(asyncio.CancelledError, QkdlinkError):
                await tunnel
        elif not tunnel.cancelled():
            tunnel.exception()  # retrieved: the program's own failure is the one reported
