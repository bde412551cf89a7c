"""KME config: TOML loading, validation on construction, key source kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.keysource import FileKeySource, KeySource, TestKeySource
from qkdlink.kme import KeySourceConfig, LimitsConfig, config_from_mapping, load_config
from qkdlink.kme._sources import make_key_source

HERE = "tests.qkdlink.kme.test_config"

BASE = {
    "kme_id": "KME_a",
    "sae_ids": ["SAE_a"],
    "listen": {"host": "127.0.0.1", "port": 8443},
    "tls": {"cert": "tls/kme.pem", "key": "tls/kme-key.pem", "ca": "/abs/ca.pem"},
    "store": {"kind": "sqlite", "path": "keys.sqlite", "master_key_file": "master.key"},
    "limits": {"key_size": 256, "max_key_per_request": 64},
    "peers": [
        {
            "kme_id": "KME_b",
            "url": "https://127.0.0.1:8444",
            "sae_ids": ["SAE_b"],
            "link_id": "a--b",
            "key_source": {"kind": "test", "seed": "s"},
        }
    ],
}


def test_toml_file_round_trip(tmp_path: Path) -> None:
    (tmp_path / "kme.toml").write_text(
        """
kme_id = "KME_a"
sae_ids = ["SAE_a"]
[listen]
port = 9000
[tls]
cert = "kme.pem"
key = "kme-key.pem"
ca = "ca.pem"
[store]
kind = "sqlite"
path = "keys.sqlite"
master_key_file = "master.key"
[[peers]]
kme_id = "KME_b"
url = "https://127.0.0.1:9001"
sae_ids = ["SAE_b"]
link_id = "a--b"
[peers.key_source]
kind = "plugin"
factory = "simulators.bb84:make_key_source"
seed = 7
distance_km = 10.0
"""
    )
    config = load_config(tmp_path / "kme.toml")
    assert config.tls.cert == tmp_path / "kme.pem"  # relative to the config file
    assert config.listen.port == 9000
    assert config.limits == LimitsConfig()
    source = config.peers[0].key_source
    assert source.factory == "simulators.bb84:make_key_source"
    assert dict(source.params) == {"seed": 7, "distance_km": 10.0}
    assert config.peer_of_sae("SAE_b") is config.peers[0]
    assert config.peer_of_sae("SAE_a") is None


def test_relative_paths_resolve_against_base(tmp_path: Path) -> None:
    config = config_from_mapping(BASE, tmp_path)
    assert config.tls.ca == Path("/abs/ca.pem")
    assert config.tls.key == tmp_path / "tls/kme-key.pem"
    assert config.limits.max_key_per_request == 64


def _with(**changes: object) -> dict[str, object]:
    data = dict(BASE)
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "data",
    [
        _with(kme_id="KME a"),
        _with(sae_ids="SAE_a"),
        _with(limits={"key_size": 100}),
        _with(limits={"min_key_size": 512, "key_size": 256}),
        _with(limits={"max_key_per_request": 0}),
        _with(limits={"peer_timeout_s": 0}),
        _with(limits={"unknown": 1}),
        _with(listen={"port": 70000}),
        _with(store={"kind": "mongodb", "master_key_file": "k"}),
        _with(peers=[{**BASE["peers"][0], "url": "http://127.0.0.1:1"}]),  # type: ignore[index]
        _with(peers=[{**BASE["peers"][0], "kme_id": "KME_a"}]),  # type: ignore[index]
        _with(peers=[{**BASE["peers"][0], "sae_ids": ["SAE_a"]}]),  # type: ignore[index]
        _with(peers=[{**BASE["peers"][0], "key_source": {"kind": "magic"}}]),  # type: ignore[index]
        _with(peers=[{**BASE["peers"][0], "key_source": {"kind": "plugin"}}]),  # type: ignore[index]
        _with(peers=[BASE["peers"][0], BASE["peers"][0]]),  # type: ignore[index]
        {"kme_id": "KME_a"},
    ],
)
def test_invalid_configs_are_refused(tmp_path: Path, data: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        config_from_mapping(data, tmp_path)


def test_key_source_kinds(tmp_path: Path) -> None:
    test = make_key_source("l", KeySourceConfig("test", {"seed": 5, "block_bytes": 64}))
    assert isinstance(test, TestKeySource)
    assert test.block(0) == TestKeySource("l", seed=b"5", block_bytes=64).block(0)
    (tmp_path / "k.bin").write_bytes(bytes(128))
    file = make_key_source("l", KeySourceConfig("file", {"path": str(tmp_path / "k.bin")}))
    assert isinstance(file, FileKeySource)
    plugin = make_key_source(
        "l",
        KeySourceConfig(
            "plugin",
            {"seed": 3, "block_bytes": 32},
            factory=f"{HERE}:example_factory",
        ),
    )
    assert isinstance(plugin, KeySource)
    assert plugin.link_id == "l"


def example_factory(link_id: str, *, seed: int, block_bytes: int) -> KeySource:
    """A plugin factory as a config names it ("module:callable")."""
    return TestKeySource(link_id, seed=str(seed).encode(), block_bytes=block_bytes)


def not_a_source(link_id: str) -> object:
    return object()


@pytest.mark.parametrize(
    "source",
    [
        KeySourceConfig("plugin", {}, factory="no.such.module:fn"),
        KeySourceConfig("plugin", {}, factory=f"{HERE}:missing"),
        KeySourceConfig("plugin", {}, factory=f"{HERE}:not_a_source"),
        KeySourceConfig("plugin", {"bad": 1}, factory=f"{HERE}:example_factory"),
        KeySourceConfig("test", {"colour": "red"}),
    ],
)
def test_bad_key_sources_are_configuration_errors(source: KeySourceConfig) -> None:
    with pytest.raises(ConfigurationError):
        make_key_source("l", source)


def test_the_documented_config_loads_and_shows_a_per_lab_seed(tmp_path: Path) -> None:
    """docs/kme.md's example must stay a valid config, with a seed of the form `qkdlink lab`
    writes (random per lab), never one fixed string every reader would share."""
    doc = (Path(__file__).parents[3] / "docs" / "kme.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "kme.toml").write_text(example)
    config = load_config(tmp_path / "kme.toml")
    (peer,) = config.peers
    assert peer.key_source.kind == "test"
    seed = str(peer.key_source.params["seed"])
    assert re.fullmatch(rf"lab-[0-9a-f]{{32}}/{re.escape(peer.link_id)}", seed)
