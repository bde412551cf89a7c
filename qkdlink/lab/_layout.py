"""Lab layout: PKI, KME configs and `lab.json` for a set of nodes and the links between them.

`create_lab` writes everything a lab needs into one directory; `run_lab` (in `_run.py`) starts
it. `lab.json` is a contract other tools read (issue 2, point 7): absolute paths, one entry per
node, the list of linked node pairs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qkdlink.errors import ConfigurationError
from qkdlink.kme._config import LimitsConfig
from qkdlink.kme._sources import BB84_PLUGIN
from qkdlink.pki import LabCA, validate_id

__all__ = ["DEFAULT_NODES", "LabNode", "LabSpec", "create_lab", "load_lab"]

DEFAULT_NODES = ("hospital-a", "hospital-b", "hospital-c")
KeySourceKind = Literal["test", "file", "bb84"]

_FILE_KEY_BYTES = 8 * 1024 * 1024
"""Size of each pre-shared key file a `file` lab generates (both ends read the same file)."""


@dataclass(frozen=True, slots=True)
class LabNode:
    """One node of a lab: a KME and the SAE attached to it."""

    name: str
    kme_id: str
    kme_url: str
    sae_id: str
    sae_cert: Path
    sae_key: Path
    config: Path
    """The node's KME config (TOML), for `qkdlink kme serve --config`."""


@dataclass(frozen=True, slots=True)
class LabSpec:
    """A lab written to disk by `create_lab`."""

    directory: Path
    ca_cert: Path
    nodes: tuple[LabNode, ...]
    links: tuple[tuple[str, str], ...]

    def node(self, name: str) -> LabNode:
        """The node called `name`.

        Raises:
            ConfigurationError: no such node.
        """
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigurationError(f"no lab node {name!r}")

    def to_json(self) -> dict[str, object]:
        """The `lab.json` document (issue 2, point 7)."""
        return {
            "ca_cert": str(self.ca_cert),
            "nodes": {
                n.name: {
                    "kme_id": n.kme_id,
                    "kme_url": n.kme_url,
                    "sae_id": n.sae_id,
                    "sae_cert": str(n.sae_cert),
                    "sae_key": str(n.sae_key),
                }
                for n in self.nodes
            },
            "links": [list(link) for link in self.links],
        }


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value))  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigurationError(f"cannot write {type(value).__name__} to TOML")


def _toml_table(header: str, values: Mapping[str, object]) -> str:
    lines = [header] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n\n"


def _link_id(a: str, b: str) -> str:
    return f"{a}--{b}"


def _parse_links(
    nodes: Sequence[str], links: Sequence[tuple[str, str]] | None
) -> tuple[tuple[str, str], ...]:
    if links is None:
        return tuple(itertools.combinations(nodes, 2))
    seen: set[frozenset[str]] = set()
    result = []
    for a, b in links:
        if a not in nodes or b not in nodes or a == b:
            raise ConfigurationError(f"link {a}:{b} must join two different lab nodes")
        if frozenset((a, b)) in seen:
            raise ConfigurationError(f"link {a}:{b} given twice")
        seen.add(frozenset((a, b)))
        result.append((a, b))
    return tuple(result)


def _encode_fields(*fields: str) -> bytes:
    """Length-prefixed UTF-8 fields: an unambiguous hash input ("a", "bc" is not "ab", "c")."""
    return b"".join(len(f.encode()).to_bytes(4, "big") + f.encode() for f in fields)


def _key_source_table(
    kind: KeySourceKind, link_id: str, lab_dir: Path, seed: str, distance_km: float | None
) -> dict[str, object]:
    if kind == "test":
        return {"kind": "test", "seed": f"{seed}/{link_id}"}
    if kind == "file":
        path = lab_dir / "links" / f"{link_id}.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: a new file of our own, never through a link planted at this path.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise ConfigurationError(f"cannot create link key file {path}") from exc
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(_FILE_KEY_BYTES))
        return {"kind": "file", "path": str(path)}
    if kind == "bb84":
        # One simulator seed per (lab, link), from a hash of both: distinct links never share a
        # stream (a byte sum of the link ID made "ab--c" and "ba--c" one and the same link).
        digest = hashlib.sha256(_encode_fields(seed, link_id)).digest()
        table: dict[str, object] = {
            "kind": "plugin",
            "factory": BB84_PLUGIN,
            "seed": int.from_bytes(digest[:6], "big"),
        }
        if distance_km is not None:
            table["distance_km"] = distance_km
        return table
    raise ConfigurationError(f"unknown key source {kind!r}")


def create_lab(
    directory: Path | str,
    *,
    nodes: Sequence[str] = DEFAULT_NODES,
    links: Sequence[tuple[str, str]] | None = None,
    key_source: KeySourceKind = "test",
    distance_km: float | None = None,
    host: str = "127.0.0.1",
    limits: LimitsConfig | None = None,
    seed: str | None = None,
    extra_sae_ids: Mapping[str, Sequence[str]] | None = None,
) -> LabSpec:
    """Write a lab: CA, KME and SAE certificates, master keys, one KME config per node, and
    `lab.json`. Links default to every pair of nodes. Ports are picked free on `host` now.
    `extra_sae_ids` attaches more SAEs to a node (certificates in `<dir>/<node>/sae/`); lab.json
    lists only each node's main SAE. `seed` fixes the simulated links' key material (test and
    bb84 sources) for reproducible runs; by default each lab draws its own, so two labs never
    deliver the same keys.

    Raises:
        ConfigurationError: bad node names or links.
    """
    from qkdlink.keystore._sealing import create_master_key_file

    if len(set(nodes)) != len(nodes) or len(nodes) < 2:
        raise ConfigurationError("a lab needs at least two distinct nodes")
    for name in nodes:
        validate_id(name, "node name")
    pairs = _parse_links(nodes, links)
    if seed is None:
        seed = f"lab-{secrets.token_hex(16)}"
    lab_dir = Path(directory).absolute()
    lab_dir.mkdir(parents=True, exist_ok=True)
    ca = LabCA.create(lab_dir / "pki")
    limits = limits or LimitsConfig()
    ports = {name: _free_port(host) for name in nodes}
    sae_ids = {name: [f"SAE_{name}", *(extra_sae_ids or {}).get(name, ())] for name in nodes}
    spec_nodes = []
    for name in nodes:
        kme_id, sae_id = f"KME_{name}", f"SAE_{name}"
        node_dir = lab_dir / name
        kme_cert = ca.issue_kme_cert(kme_id, node_dir / "tls", hosts=(host, "localhost"))
        sae_cert = ca.issue_sae_cert(sae_id, node_dir / "sae")
        for extra in sae_ids[name][1:]:
            ca.issue_sae_cert(extra, node_dir / "sae")
        master_key = node_dir / "master.key"
        if not master_key.exists():
            create_master_key_file(master_key)
        text = _toml_table("", {"kme_id": kme_id, "sae_ids": sae_ids[name]}).lstrip()
        text += _toml_table("[listen]", {"host": host, "port": ports[name]})
        text += _toml_table(
            "[tls]", {"cert": kme_cert.cert, "key": kme_cert.key, "ca": ca.cert_path}
        )
        text += _toml_table(
            "[store]",
            {"kind": "sqlite", "path": node_dir / "keys.sqlite", "master_key_file": master_key},
        )
        text += _toml_table(
            "[limits]",
            {
                name_: getattr(limits, name_)
                for name_ in LimitsConfig.__dataclass_fields__  # every field, for operators
            },
        )
        for a, b in pairs:
            if name not in (a, b):
                continue
            other = b if name == a else a
            link_id = _link_id(a, b)
            text += _toml_table(
                "[[peers]]",
                {
                    "kme_id": f"KME_{other}",
                    "url": f"https://{host}:{ports[other]}",
                    "sae_ids": sae_ids[other],
                    "link_id": link_id,
                },
            )
            text += _toml_table(
                "[peers.key_source]",
                _key_source_table(key_source, link_id, lab_dir, seed, distance_km),
            )
        config = node_dir / "kme.toml"
        config.write_text(text)
        spec_nodes.append(
            LabNode(
                name=name,
                kme_id=kme_id,
                kme_url=f"https://{host}:{ports[name]}",
                sae_id=sae_id,
                sae_cert=sae_cert.cert,
                sae_key=sae_cert.key,
                config=config,
            )
        )
    spec = LabSpec(lab_dir, ca.cert_path, tuple(spec_nodes), pairs)
    (lab_dir / "lab.json").write_text(json.dumps(spec.to_json(), indent=2) + "\n")
    return spec


def load_lab(directory: Path | str) -> LabSpec:
    """Read a lab written by `create_lab` back from its `lab.json`.

    Raises:
        ConfigurationError: no or malformed lab.json.
    """
    lab_dir = Path(directory).absolute()
    try:
        data = json.loads((lab_dir / "lab.json").read_text())
        nodes = tuple(
            LabNode(
                name=name,
                kme_id=entry["kme_id"],
                kme_url=entry["kme_url"],
                sae_id=entry["sae_id"],
                sae_cert=Path(entry["sae_cert"]),
                sae_key=Path(entry["sae_key"]),
                config=lab_dir / name / "kme.toml",
            )
            for name, entry in data["nodes"].items()
        )
        links = tuple((a, b) for a, b in data["links"])
        return LabSpec(lab_dir, Path(data["ca_cert"]), nodes, links)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read {lab_dir / 'lab.json'}") from exc
