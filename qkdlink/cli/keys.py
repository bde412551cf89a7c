"""`qkdlink keys status|get|get-by-id`: an operator's ETSI GS QKD 014 client for a KME.

Connection: `--lab DIR/lab.json --node NAME` (the lab's contract file), or `--url --kme-id
--cert --key --ca`. Key material is printed only with `--show-keys`, as the spec's Key container
JSON (clause 6.3, base64 keys); otherwise `get` prints the key IDs and sizes (with `--json`: the
Key IDs data format of clause 6.4, ready for `get-by-id --key-ids FILE` on the slave's side).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qkdlink.errors import ConfigurationError

if TYPE_CHECKING:
    from protocols.etsi014 import KeyContainer
    from qkdlink.client import KmeClientConfig


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="get status and keys from a KME (ETSI 014)")
    commands = parser.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)

    status = commands.add_parser("status", help="Get status (clause 5.2) for a slave SAE")
    status.add_argument("--slave", required=True, help="slave SAE ID")
    _connection_options(status)
    status.set_defaults(handler=_status)

    get = commands.add_parser("get", help="Get key (enc_keys, clause 5.3) as master SAE")
    get.add_argument("--slave", required=True, help="slave SAE ID")
    get.add_argument("--number", type=int, default=1, help="number of keys (default 1)")
    get.add_argument("--size", type=int, help="key size in bits (default: the KME's key_size)")
    get.add_argument(
        "--additional-slave",
        action="append",
        default=[],
        metavar="SAE_ID",
        help="further slave SAE (repeatable; needs a KME with max_SAE_ID_count > 0)",
    )
    _key_output_options(get)
    _connection_options(get)
    get.set_defaults(handler=_get)

    by_id = commands.add_parser("get-by-id", help="Get key with key IDs (dec_keys, clause 5.4)")
    by_id.add_argument("--master", required=True, help="master SAE ID")
    by_id.add_argument("--key-id", action="append", default=[], metavar="UUID", help="repeatable")
    by_id.add_argument(
        "--key-ids",
        type=Path,
        metavar="FILE",
        help="Key IDs JSON (clause 6.4), e.g. the output of `keys get --json`; '-' = stdin",
    )
    _key_output_options(by_id)
    _connection_options(by_id)
    by_id.set_defaults(handler=_get_by_id)


def _key_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show-keys",
        action="store_true",
        help="print the key material (the Key container JSON, base64 keys): handle with care",
    )


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("KME connection (either --lab/--node or the TLS files)")
    group.add_argument("--lab", type=Path, help="lab.json (or its directory) of `qkdlink lab up`")
    group.add_argument("--node", help="node name in lab.json (this SAE's node)")
    group.add_argument("--url", help="KME base URL, https://host:port")
    group.add_argument("--kme-id", help="expected KME ID")
    group.add_argument("--cert", type=Path, help="SAE certificate (PEM)")
    group.add_argument("--key", type=Path, help="SAE private key (PEM)")
    group.add_argument("--ca", type=Path, help="CA certificate the KME's must chain to (PEM)")
    group.add_argument("--timeout", type=float, default=15.0, help="seconds per attempt")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _config(args: argparse.Namespace) -> KmeClientConfig:
    import dataclasses

    from qkdlink.client import KmeClientConfig

    if args.lab is not None:
        if args.node is None:
            raise ConfigurationError("--lab needs --node")
        lab = args.lab / "lab.json" if args.lab.is_dir() else args.lab
        config = KmeClientConfig.from_lab(lab, args.node)
    else:
        missing = [
            f"--{name.replace('_', '-')}"
            for name in ("url", "kme_id", "cert", "key", "ca")
            if getattr(args, name) is None
        ]
        if missing:
            raise ConfigurationError(f"give --lab and --node, or {', '.join(missing)}")
        config = KmeClientConfig(
            url=args.url, kme_id=args.kme_id, cert=args.cert, key=args.key, ca=args.ca
        )
    return dataclasses.replace(config, request_timeout=args.timeout)


def _print_keys(container: KeyContainer, args: argparse.Namespace) -> None:
    from protocols.etsi014 import KeyIds

    if args.show_keys:
        print(container.to_json().decode("utf-8"))
    elif args.json:
        print(KeyIds.of(container.key_ids).to_json().decode("utf-8"))
    else:
        for key in container.keys:
            print(f"{key.key_id}  {key.size} bits")


def _status(args: argparse.Namespace) -> int:
    import asyncio

    from qkdlink.client import KmeClient

    async def run() -> int:
        async with KmeClient(_config(args)) as client:
            status = await client.status(args.slave)
        if args.json:
            print(status.to_json().decode("utf-8"))
        else:
            for name, value in status.to_dict().items():
                print(f"{name}: {value}")
        return 0

    return asyncio.run(run())


def _get(args: argparse.Namespace) -> int:
    import asyncio

    from qkdlink.client import KmeClient

    async def run() -> int:
        async with KmeClient(_config(args)) as client:
            container = await client.get_key(
                args.slave,
                number=args.number,
                size=args.size,
                additional_slave_sae_ids=args.additional_slave,
            )
        _print_keys(container, args)
        return 0

    return asyncio.run(run())


def _read_key_ids(args: argparse.Namespace) -> list[str]:
    from protocols.etsi014 import KeyIds, ParseError

    ids = list(args.key_id)
    if args.key_ids is not None:
        try:
            if str(args.key_ids) == "-":
                data = sys.stdin.buffer.read()
            else:
                data = args.key_ids.read_bytes()
            ids += [str(i) for i in KeyIds.from_json(data).ids]
        except OSError as exc:
            raise ConfigurationError(f"cannot read {args.key_ids}: {exc}") from exc
        except ParseError as exc:
            raise ConfigurationError(f"{args.key_ids} is not Key IDs JSON: {exc.error}") from exc
    if not ids:
        raise ConfigurationError("give --key-id (repeatable) or --key-ids FILE")
    return ids


def _get_by_id(args: argparse.Namespace) -> int:
    import asyncio

    from qkdlink.client import KmeClient

    key_ids = _read_key_ids(args)

    async def run() -> int:
        async with KmeClient(_config(args)) as client:
            container = await client.get_key_with_ids(args.master, key_ids)
        _print_keys(container, args)
        return 0

    return asyncio.run(run())
