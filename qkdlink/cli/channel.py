"""`qkdlink channel send|listen`: pipe stdin to stdout through a QKD-keyed channel.

``listen`` (the responder, slave SAE) writes every received message to stdout; ``send`` (the
initiator, master SAE) reads stdin in chunks of up to 64 KiB and sends each as a message, then
closes the channel. Both take the lab's ``lab.json`` and a node name for KME access (mutual TLS)
and static keys (created next to lab.json on first use, see docs/channel.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

_CHUNK = 64 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("channel", help="send or receive data over a QKD-keyed channel")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("send", "connect to a listening peer and send stdin (initiator, master SAE)"),
        ("listen", "wait for a peer and write what it sends to stdout (responder, slave SAE)"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--lab", type=Path, required=True, help="the lab's lab.json")
        sub.add_argument("--node", required=True, help="this node's name in lab.json")
        sub.add_argument("--peer", required=True, help="the peer node's name in lab.json")
        sub.add_argument("--transport", choices=("tcp", "mqtt"), default="tcp")
        sub.add_argument("--host", default="127.0.0.1", help="TCP address (listen/connect)")
        sub.add_argument("--port", type=int, default=7400, help="TCP port (0: pick one)")
        sub.add_argument("--broker", default="127.0.0.1:1883", help="MQTT broker HOST:PORT")
        sub.add_argument(
            "--mode", default="qkd+x25519+mlkem", choices=("qkd+x25519+mlkem", "qkd+x25519")
        )
        sub.add_argument("--rekey-interval", type=float, default=120.0, help="seconds")
        sub.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from qkdlink.channel import (
        KmeKeyProvider,
        TcpEndpoint,
        connect,
        lab_channel_config,
        lab_sae_ids,
        serve,
    )
    from qkdlink.client import KmeClient, KmeClientConfig
    from qkdlink.errors import ConfigurationError, EndOfChannelError
    from qkdlink.transport import MqttTransportConfig

    transport: TcpEndpoint | MqttTransportConfig
    if args.transport == "tcp":
        transport = TcpEndpoint(args.host, args.port)
    else:
        host, _, port = args.broker.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError("--broker must be HOST:PORT")
        transport = MqttTransportConfig(
            local_id=args.node, peer_id=args.peer, host=host, port=int(port)
        )
    async with KmeClient(KmeClientConfig.from_lab(args.lab, args.node)) as client:
        config = lab_channel_config(
            args.lab,
            args.node,
            args.peer,
            KmeKeyProvider(client, sae_ids=lab_sae_ids(args.lab)),
            mode=args.mode,
            rekey_interval=args.rekey_interval,
            reject_after=args.rekey_interval * 1.5,
        )
        if args.action == "send":
            async with connect(config, transport) as channel:
                loop = asyncio.get_running_loop()
                stdin = sys.stdin.fileno()
                while chunk := await loop.run_in_executor(None, os.read, stdin, _CHUNK):
                    await channel.send(chunk)
            return 0

        def listening(port: int) -> None:
            print(f"qkdlink channel: listening on {args.host}:{port}", file=sys.stderr, flush=True)

        async with serve(config, transport, on_listening=listening) as channel:
            out = sys.stdout.buffer
            while True:
                try:
                    message = await channel.recv()
                except EndOfChannelError:
                    break
                out.write(message)
                out.flush()
        return 0
