"""The public surfaces of qkdlink.mesh and qkdlink.randomness are pinned."""

import qkdlink.mesh
import qkdlink.randomness


def test_mesh_exports() -> None:
    assert sorted(qkdlink.mesh.__all__) == [
        "ChannelMeshTransport",
        "LinkHandler",
        "MemoryNetwork",
        "MemoryTransport",
        "Mesh",
        "MeshConfig",
        "MeshTransport",
        "MessageLink",
        "MqttBroker",
        "PeerStats",
        "TcpBasePorts",
        "TunnelConfig",
        "run_tunnel",
    ]
    for name in qkdlink.mesh.__all__:
        assert getattr(qkdlink.mesh, name) is not None


def test_randomness_exports() -> None:
    assert set(qkdlink.randomness.__all__) >= {
        "Prg",
        "Przs",
        "ReplicatedSeeds",
        "Prss",
        "CommonCoins",
        "SeedLedger",
        "KeyProvider",
        "agree_pair_seed",
        "agree_group_seed",
        "derive_pair_seed",
    }
    for name in qkdlink.randomness.__all__:
        assert getattr(qkdlink.randomness, name) is not None
