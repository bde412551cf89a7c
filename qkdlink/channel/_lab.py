"""Channel settings from a lab's ``lab.json``: node static keys and the KME key provider.

The lab file (issue 2) lists each node's KME and SAE credentials but no channel static keys.
This module keeps them next to it, one X25519 private key per node in
``<lab dir>/channel-keys/<node>.x25519`` (hex, mode 0600), created on first use. Every node of a
test lab shares the directory, so a node reads its peers' public keys from the same place; a
real deployment distributes only the public keys (see docs/channel.md, "Static keys").
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from qkdlink.channel._config import ChannelConfig
from qkdlink.errors import ConfigurationError
from qkdlink.keyprovider import KeyProvider

__all__ = ["lab_channel_config", "lab_sae_ids", "lab_static_keypair"]

_KEY_DIR = "channel-keys"


def _lab(lab_json: Path) -> dict[str, Any]:
    try:
        data = json.loads(lab_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read lab file {lab_json}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        raise ConfigurationError(f"{lab_json} is not a lab.json (needs nodes)")
    return data


def lab_sae_ids(lab_json: Path | str) -> dict[str, str]:
    """Node name -> SAE ID of every node in the lab (the names KME requests use).

    Raises:
        ConfigurationError: unreadable or malformed lab file.
    """
    nodes = _lab(Path(lab_json))["nodes"]
    return {name: str(entry["sae_id"]) for name, entry in nodes.items() if "sae_id" in entry}


def lab_static_keypair(lab_json: Path | str, node: str) -> tuple[bytes, bytes]:
    """(private, public) X25519 static key of `node`, created on first use.

    Raises:
        ConfigurationError: `node` is not in the lab, or the key file is unreadable or corrupt.
    """
    path = Path(lab_json)
    if node not in _lab(path)["nodes"] or "/" in node or node.startswith("."):
        raise ConfigurationError(f"node {node!r} is not in {path}")
    directory = path.parent / _KEY_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    key_file = directory / f"{node}.x25519"
    if not key_file.exists():
        _create_key_file(key_file)
    try:
        private = bytes.fromhex(key_file.read_text().strip())
        public = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"unreadable static key file {key_file}") from exc
    return private, public


def _create_key_file(key_file: Path) -> None:
    """Write a fresh static key to `key_file` unless another process already has.

    The key is written to a private temporary file first and then hard-linked into place
    (link(2) fails if the name exists), so a concurrent reader never sees a partly written file
    and two processes starting at once agree on one key.
    """
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(X25519PrivateKey.generate().private_bytes_raw().hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)


def lab_channel_config(
    lab_json: Path | str, node: str, peer: str, key_provider: KeyProvider, **options: Any
) -> ChannelConfig:
    """The `ChannelConfig` of `node` talking to `peer` in a lab, with their lab static keys.

    `key_provider` is usually ``KmeKeyProvider(KmeClient(KmeClientConfig.from_lab(lab_json,
    node)), sae_ids=lab_sae_ids(lab_json))``; `options` are further `ChannelConfig` fields.

    Raises:
        ConfigurationError: unknown nodes, unreadable lab files, invalid options.
    """
    private, _ = lab_static_keypair(lab_json, node)
    _, peer_public = lab_static_keypair(lab_json, peer)
    return ChannelConfig(
        local_id=node,
        peer_id=peer,
        static_private_key=private,
        peer_static_public_key=peer_public,
        key_provider=key_provider,
        **options,
    )
