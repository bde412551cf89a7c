"""The party mesh MPC engines use as their transport: N parties, tagged messages, collectives.

`Mesh(config, transport, keys=...)` connects to every peer (dialling with retry), exchanges
bytes and numpy arrays under tags, offers broadcast/gather/barrier, counts bytes and keys per
peer, and derives correlated randomness (PRZS, replicated seeds, PRSS, coins) from QKD keys.
Nothing happens at import; each `Mesh` owns its state.
"""

from qkdlink.mesh._channels import ChannelMeshTransport, MqttBroker, TcpBasePorts
from qkdlink.mesh._config import MeshConfig
from qkdlink.mesh._link import (
    LinkHandler,
    MemoryNetwork,
    MemoryTransport,
    MeshTransport,
    MessageLink,
)
from qkdlink.mesh._mesh import Mesh, PeerStats
from qkdlink.mesh._tunnel import TunnelConfig, run_tunnel

__all__ = [
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
