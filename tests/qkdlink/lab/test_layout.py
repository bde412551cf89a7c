"""`create_lab`: the files it writes, the lab.json contract (issue 2 point 7) and its configs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.kme import BB84_PLUGIN, load_config, own_partition
from qkdlink.lab import create_lab, load_lab


def test_lab_json_has_the_contract_format(tmp_path: Path) -> None:
    spec = create_lab(tmp_path / "lab")
    data = json.loads((tmp_path / "lab" / "lab.json").read_text())
    assert set(data) == {"ca_cert", "nodes", "links"}
    assert Path(data["ca_cert"]).is_absolute()
    assert Path(data["ca_cert"]).exists()
    assert set(data["nodes"]) == {"hospital-a", "hospital-b", "hospital-c"}
    for name, node in data["nodes"].items():
        assert set(node) == {"kme_id", "kme_url", "sae_id", "sae_cert", "sae_key"}
        assert node["kme_id"] == f"KME_{name}"
        assert node["sae_id"] == f"SAE_{name}"
        assert node["kme_url"].startswith("https://127.0.0.1:")
        for key in ("sae_cert", "sae_key"):
            assert Path(node[key]).is_absolute()
            assert Path(node[key]).exists()
        assert stat.S_IMODE(Path(node["sae_key"]).stat().st_mode) == 0o600
    # Default: every pair is linked.
    assert sorted(map(sorted, data["links"])) == [
        ["hospital-a", "hospital-b"],
        ["hospital-a", "hospital-c"],
        ["hospital-b", "hospital-c"],
    ]
    assert load_lab(tmp_path / "lab").to_json() == spec.to_json()


def test_configs_mirror_each_other(tmp_path: Path) -> None:
    spec = create_lab(
        tmp_path, nodes=("x", "y", "z"), links=[("x", "y"), ("y", "z")], key_source="file"
    )
    configs = {n.name: load_config(n.config) for n in spec.nodes}
    assert [p.kme_id for p in configs["x"].peers] == ["KME_y"]
    assert sorted(p.kme_id for p in configs["y"].peers) == ["KME_x", "KME_z"]
    peer_of_x = configs["x"].peers[0]
    peer_of_y = configs["y"].peer_by_kme_id("KME_x")
    assert peer_of_y is not None
    # Both ends name the link alike and read the same key file.
    assert peer_of_x.link_id == peer_of_y.link_id
    assert peer_of_x.key_source == peer_of_y.key_source
    assert Path(peer_of_x.key_source.params["path"]).stat().st_size > 0
    # Exactly one end owns each partition.
    assert own_partition("KME_x", "KME_y") != own_partition("KME_y", "KME_x")
    assert peer_of_x.url == spec.node("y").kme_url


def test_link_key_file_is_never_written_through_a_planted_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.key"
    (tmp_path / "lab" / "links").mkdir(parents=True)
    (tmp_path / "lab" / "links" / "x--y.key").symlink_to(elsewhere)  # dangling: "not there"
    with pytest.raises(ConfigurationError):
        create_lab(tmp_path / "lab", nodes=("x", "y"), key_source="file")
    assert not elsewhere.exists()


def test_bb84_lab_uses_the_plugin(tmp_path: Path) -> None:
    spec = create_lab(tmp_path, nodes=("a", "b"), key_source="bb84", distance_km=12.5)
    source = load_config(spec.node("a").config).peers[0].key_source
    assert source.kind == "plugin"
    assert source.factory == BB84_PLUGIN
    assert source.params["distance_km"] == 12.5
    assert isinstance(source.params["seed"], int)
    other = load_config(spec.node("b").config).peers[0].key_source
    assert other == source


def test_links_and_labs_never_share_simulated_key_material(tmp_path: Path) -> None:
    # "ab--c" and "ba--c" have the same bytes in another order: still two different links.
    spec = create_lab(tmp_path / "one", nodes=("ab", "ba", "c"), key_source="bb84")
    seeds = {
        link.link_id: link.key_source.params["seed"]
        for link in load_config(spec.node("c").config).peers
    }
    assert len(set(seeds.values())) == 2, seeds
    # Two labs made with the defaults draw their own test-source seeds.
    tests = [
        load_config(create_lab(tmp_path / d, nodes=("x", "y")).node("x").config).peers[0]
        for d in ("two", "three")
    ]
    assert tests[0].key_source.params["seed"] != tests[1].key_source.params["seed"]
    # An explicit seed reproduces a lab's links.
    again = [
        load_config(create_lab(tmp_path / d, nodes=("x", "y"), seed="s").node("x").config)
        for d in ("four", "five")
    ]
    assert again[0].peers[0].key_source == again[1].peers[0].key_source


@pytest.mark.parametrize(
    ("nodes", "links"),
    [
        (("a",), None),
        (("a", "a"), None),
        (("a", "b"), [("a", "c")]),
        (("a", "b"), [("a", "a")]),
        (("a", "b"), [("a", "b"), ("b", "a")]),
        (("a b", "c"), None),
    ],
)
def test_bad_nodes_or_links_are_refused(
    tmp_path: Path, nodes: tuple[str, ...], links: list[tuple[str, str]] | None
) -> None:
    with pytest.raises(ConfigurationError):
        create_lab(tmp_path, nodes=nodes, links=links)
