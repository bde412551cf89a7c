"""MPyC over qkdlink: unmodified MPyC programs whose TCP connections run through mesh tunnels.

PRSS keys: MPyC 0.11 draws its PRSS keys with `secrets.token_bytes` in the runtime's `threshold`
setter and sends them to peers inside its connection handshake (`MessageExchanger.
connection_made`); there is no hook to supply them. Making MPyC use QKD-derived keys would need
patching MPyC's private state and its handshake, so we do not: its keys travel inside the
quantum-keyed tunnel instead, and `qkdlink.mesh.Mesh.prss` offers QKD-derived PRSS keys with
MPyC's subset layout for engines that take keys from the transport.
"""

from integrations.mpyc._runner import MpycRunError, mpyc_party_argv, run_mpyc_party

__all__ = ["MpycRunError", "mpyc_party_argv", "run_mpyc_party"]
