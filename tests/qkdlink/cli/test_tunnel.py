"""`qkdlink tunnel`: argument parsing, and two tunnels of a lab forwarding a stream."""

from __future__ import annotations

import asyncio
import sys

import pytest

from qkdlink.cli import build_parser
from qkdlink.cli.tunnel import parse_host_port, parse_ports
from qkdlink.errors import ConfigurationError
from tests.qkdlink.mesh._helpers import free_ports


def test_parse_ports_and_host_port() -> None:
    assert parse_ports("a=1, b=65535") == {"a": 1, "b": 65535}
    assert parse_ports("") == {}
    for bad in ("a", "a=x", "=1", "a=70000"):
        with pytest.raises(ConfigurationError):
            parse_ports(bad)
    assert parse_host_port("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(ConfigurationError):
        parse_host_port("nohost")


def test_parser_registers_tunnel() -> None:
    args = build_parser().parse_args(
        ["tunnel", "--lab", "l.json", "--party", "a", "--target", "127.0.0.1:1", "--once"]
    )
    assert args.once
    assert args.transport == "tcp"


@pytest.mark.slow
async def test_two_tunnels_forward_through_a_lab(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qkdlink.lab import create_lab, run_lab

    spec = create_lab(tmp_path, nodes=("alpha", "beta"))
    lab_json = spec.directory / "lab.json"

    async def upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.read()).upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upper, "127.0.0.1", 0)
    target = server.sockets[0].getsockname()[1]
    mesh_a, mesh_b, forward = free_ports(3, spacing=3)
    common = ["--lab", str(lab_json), "--mesh-ports", f"alpha={mesh_a},beta={mesh_b}", "--once"]

    async def tunnel(party: str, *args: str) -> asyncio.subprocess.Process:
        """`qkdlink tunnel --party PARTY` on the lab, its stdout piped."""
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "qkdlink", "tunnel", "--party", party, *common, *args),
            stdout=asyncio.subprocess.PIPE,
        )

    async with run_lab(spec):
        procs = [
            await tunnel("alpha", "--forward-ports", f"beta={forward}", "--target", "127.0.0.1:1"),
            await tunnel("beta", "--target", f"127.0.0.1:{target}"),
        ]
        try:
            first = procs[0].stdout
            assert first is not None
            line = await asyncio.wait_for(first.readline(), 60)
            assert f"-P 127.0.0.1:{forward}" in line.decode()
            reader, writer = await asyncio.open_connection("127.0.0.1", forward)
            writer.write(b"through the quantum-keyed tunnel")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 30) == b"THROUGH THE QUANTUM-KEYED TUNNEL"
            writer.close()
            codes = [await asyncio.wait_for(p.wait(), 30) for p in procs]
            assert codes == [0, 0]
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
            server.close()
