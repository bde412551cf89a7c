"""TenSEAL (CKKS) over qkdlink: a public context and ciphertexts, streamed object by object."""

from integrations.tenseal._channel import ByteChannel, MeshPeerChannel
from integrations.tenseal._recv import (
    DEFAULT_IDLE_TIMEOUT,
    recv_ckks_vector,
    recv_ckks_vectors,
    recv_context,
)
from integrations.tenseal._send import send_ckks_vector, send_ckks_vectors, send_context
from integrations.tenseal._wire import (
    DEFAULT_FRAGMENT,
    MAX_CIPHERTEXT_SIZE,
    MAX_CONTEXT_SIZE,
    MAX_FRAGMENT,
    SenderAbortedError,
)

__all__ = [
    "DEFAULT_FRAGMENT",
    "DEFAULT_IDLE_TIMEOUT",
    "MAX_CIPHERTEXT_SIZE",
    "MAX_CONTEXT_SIZE",
    "MAX_FRAGMENT",
    "ByteChannel",
    "MeshPeerChannel",
    "SenderAbortedError",
    "recv_ckks_vector",
    "recv_ckks_vectors",
    "recv_context",
    "send_ckks_vector",
    "send_ckks_vectors",
    "send_context",
]
