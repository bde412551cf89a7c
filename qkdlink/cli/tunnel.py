"""`qkdlink tunnel`: forward a program's TCP connections to peers through quantum-keyed channels.

Each party runs one tunnel next to its program (e.g. an MPyC party). The tunnels form a mesh of
qkdlink channels keyed by QKD keys from each party's KME (read from a lab.json); the program
connects to local ports instead of to the peers, and the peers' tunnels deliver its streams to
their local program. For MPyC, party i runs `python prog.py -I i -P ...` with the `-P` list the
tunnel prints: its own MPyC port for entry i, its local tunnel port for every peer.
"""

from __future__ import annotations

import argparse
import asyncio


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tunnel", help="forward local TCP connections (e.g. MPyC) through quantum-keyed channels"
    )
    parser.add_argument("--lab", required=True, help="lab.json (KMEs, SAE credentials)")
    parser.add_argument("--party", required=True, help="this node's name in the lab")
    parser.add_argument(
        "--parties", help="comma-separated party order (default: the lab's nodes as listed)"
    )
    parser.add_argument("--transport", choices=("tcp", "mqtt"), default="tcp")
    parser.add_argument(
        "--mesh-ports",
        help="tcp: NAME=PORT,... each party's base port (it listens on base + peer rank)",
    )
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--mesh-id", default="qkdlink-tunnel", help="same at every party")
    parser.add_argument(
        "--forward-ports",
        default="",
        help="PEER=PORT,... local ports the program dials to reach each peer (default: free)",
    )
    parser.add_argument(
        "--target", required=True, help="HOST:PORT where peers' streams are delivered (MPyC's port)"
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after one stream per peer has ended (one run)"
    )
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    parser.set_defaults(handler=_tunnel)


def parse_ports(text: str) -> dict[str, int]:
    """`a=1,b=2` -> {"a": 1, "b": 2}.

    Raises:
        ConfigurationError: malformed entries or ports.
    """
    from qkdlink.errors import ConfigurationError

    out: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, port = item.partition("=")
        if not sep or not name or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigurationError(f"bad NAME=PORT entry {item!r}")
        out[name] = int(port)
    return out


def parse_host_port(text: str) -> tuple[str, int]:
    """`host:port` -> (host, port).

    Raises:
        ConfigurationError: malformed.
    """
    from qkdlink.errors import ConfigurationError

    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigurationError(f"bad HOST:PORT {text!r}")
    return host, int(port)


def _tunnel(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from qkdlink.errors import ConfigurationError

    lab = json.loads(Path(args.lab).read_text(encoding="utf-8"))
    parties = tuple(args.parties.split(",")) if args.parties else tuple(lab["nodes"])
    if args.party not in parties:
        raise ConfigurationError(f"{args.party!r} is not one of {parties}")
    forwards = parse_ports(args.forward_ports)
    target = parse_host_port(args.target)
    if args.transport == "tcp":
        ports = parse_ports(args.mesh_ports or "")
        if set(ports) != set(parties):
            raise ConfigurationError("--mesh-ports needs a port for every party")
    else:
        ports = {}
    return asyncio.run(_run(args, parties, forwards, target, ports))


async def _run(
    args: argparse.Namespace,
    parties: tuple[str, ...],
    forwards: dict[str, int],
    target: tuple[str, int],
    ports: dict[str, int],
) -> int:
    from qkdlink.channel import ChannelConfig, KmeKeyProvider, lab_sae_ids, lab_static_keypair
    from qkdlink.client import KmeClient, KmeClientConfig
    from qkdlink.mesh import (
        ChannelMeshTransport,
        Mesh,
        MeshConfig,
        MqttBroker,
        TcpBasePorts,
        TunnelConfig,
        run_tunnel,
    )

    me = args.party
    sae_ids = lab_sae_ids(args.lab)
    private, _ = lab_static_keypair(args.lab, me)
    async with KmeClient(KmeClientConfig.from_lab(args.lab, me)) as client:
        provider = KmeKeyProvider(client, sae_ids=sae_ids)

        def channel_config(peer: str) -> ChannelConfig:
            return ChannelConfig(
                local_id=me,
                peer_id=peer,
                static_private_key=private,
                peer_static_public_key=lab_static_keypair(args.lab, peer)[1],
                key_provider=provider,
            )

        network: TcpBasePorts | MqttBroker = (
            TcpBasePorts({p: ("127.0.0.1", port) for p, port in ports.items()})
            if args.transport == "tcp"
            else MqttBroker(args.mqtt_host, args.mqtt_port)
        )
        transport = ChannelMeshTransport(me, parties, channel_config, network, mesh_id=args.mesh_id)
        config = MeshConfig(me, parties, mesh_id=args.mesh_id, connect_timeout=args.connect_timeout)
        tunnel = TunnelConfig(
            {p: ("127.0.0.1", forwards.get(p, 0)) for p in parties if p != me},
            target,
            streams_per_peer=1 if args.once else None,
        )
        async with Mesh(config, transport) as mesh:

            def announce(bound: dict[str, int]) -> None:
                entries = [
                    f"{target[0]}:{target[1]}" if p == me else f"127.0.0.1:{bound[p]}"
                    for p in parties
                ]
                print(
                    f"tunnel {me}: MPyC options -I {parties.index(me)} "
                    + " ".join(f"-P {e}" for e in entries),
                    flush=True,
                )

            task = asyncio.create_task(run_tunnel(mesh, tunnel, on_listening=announce))
            await task
    return 0
