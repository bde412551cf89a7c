"""TenSEAL (CKKS) over qkdlink: public contexts and ciphertexts, streamed in chunks."""

from integrations.tenseal._transfer import (
    ByteChannel,
    MeshPeerChannel,
    recv_ckks_vector,
    recv_context,
    send_ckks_vector,
    send_context,
)

__all__ = [
    "ByteChannel",
    "MeshPeerChannel",
    "recv_ckks_vector",
    "recv_context",
    "send_ckks_vector",
    "send_context",
]
