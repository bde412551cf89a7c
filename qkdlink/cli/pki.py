"""`qkdlink pki`: create a lab CA and issue KME and SAE certificates from it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("pki", help="lab PKI: CA, KME and SAE certificates")
    commands = parser.add_subparsers(dest="pki_command", metavar="SUBCOMMAND", required=True)

    ca = commands.add_parser("ca", help="create a CA (ca.pem, ca-key.pem) in DIR")
    ca.add_argument("--dir", type=Path, required=True)
    ca.add_argument("--name", default="qkdlink lab CA")
    ca.add_argument("--key-type", choices=("p256", "ed25519"), default="p256")
    ca.add_argument("--days", type=int, default=365)
    ca.set_defaults(handler=_ca)

    kme = commands.add_parser("kme", help="issue a KME certificate (server + peer client)")
    kme.add_argument("kme_id")
    kme.add_argument("--hosts", default="127.0.0.1,localhost", help="comma-separated IPs/DNS")
    _issue_options(kme)
    kme.set_defaults(handler=_kme)

    sae = commands.add_parser("sae", help="issue an SAE client certificate")
    sae.add_argument("sae_id")
    _issue_options(sae)
    sae.set_defaults(handler=_sae)


def _issue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ca-dir", type=Path, required=True, help="directory of ca.pem")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--key-type", choices=("p256", "ed25519"), default="p256")
    parser.add_argument("--days", type=int, default=365)


def _ca(args: argparse.Namespace) -> int:
    from qkdlink.pki import LabCA

    ca = LabCA.create(args.dir, name=args.name, key_type=args.key_type, valid_days=args.days)
    print(f"CA certificate: {ca.cert_path}\nCA key:         {ca.key_path}")
    return 0


def _kme(args: argparse.Namespace) -> int:
    from qkdlink.pki import LabCA

    ca = LabCA.load(args.ca_dir / "ca.pem", args.ca_dir / "ca-key.pem")
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    paths = ca.issue_kme_cert(
        args.kme_id, args.out, hosts=hosts, key_type=args.key_type, valid_days=args.days
    )
    print(f"certificate: {paths.cert}\nkey:         {paths.key}")
    return 0


def _sae(args: argparse.Namespace) -> int:
    from qkdlink.pki import LabCA

    ca = LabCA.load(args.ca_dir / "ca.pem", args.ca_dir / "ca-key.pem")
    paths = ca.issue_sae_cert(args.sae_id, args.out, key_type=args.key_type, valid_days=args.days)
    print(f"certificate: {paths.cert}\nkey:         {paths.key}")
    return 0
