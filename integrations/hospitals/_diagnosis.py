"""Private diagnosis with CKKS: the client's patient record and the server's model stay private.

The client hospital makes a CKKS context (TenSEAL), keeps the secret key, and sends the public
context and its encrypted, standardized patient features to the server hospital. The server
computes the encrypted logit <x, w> + b homomorphically with its plaintext model and returns
it masked to the score's slot and noise-flooded (`_circuit_privacy`); only the client can
decrypt. The server sees ciphertexts only; the client sees one score per patient (within the
flooding noise), not the partial sums that would give away the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from integrations.hospitals._circuit_privacy import private_score
from integrations.tenseal import (
    MeshPeerChannel,
    recv_ckks_vector,
    recv_context,
    send_ckks_vector,
    send_context,
)
from qkdlink.mesh import Mesh

__all__ = ["diagnosis_client", "diagnosis_server", "make_ckks_context"]

FloatArray = npt.NDArray[np.float64]


def make_ckks_context() -> Any:
    """CKKS, N = 8192, 40-bit scale: ~128-bit security (HE standard) and two plaintext
    multiplications (the dot product and the server's score mask)."""
    import tenseal as ts

    context = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    context.global_scale = 2**40
    context.generate_galois_keys()  # rotations for the encrypted dot product
    return context


async def diagnosis_client(mesh: Mesh, server: str, patients: FloatArray) -> tuple[FloatArray, int]:
    """Encrypt each standardized patient row, have `server` score it, decrypt the logits.

    Returns the logits and the bytes of the public context sent.

    Raises:
        PartyDisconnectedError: the server left or timed out.
    """
    import tenseal as ts

    context = make_ckks_context()
    channel = MeshPeerChannel(mesh, server, "diagnosis")
    context_bytes = await send_context(channel, context)
    await channel.send(len(patients).to_bytes(4, "big"))
    for row in patients:
        await send_ckks_vector(channel, ts.ckks_vector(context, row.tolist()))
    scores = [float((await recv_ckks_vector(channel, context)).decrypt()[0]) for _ in patients]
    return np.array(scores), context_bytes


async def diagnosis_server(mesh: Mesh, client: str, weights: FloatArray) -> int:
    """Score the client's encrypted patients with the model (weights, bias last).

    Returns how many patients were scored.

    Raises:
        PartyDisconnectedError: the client left or timed out.
        RemoteProtocolError: the client sent malformed data or its secret key.
    """
    channel = MeshPeerChannel(mesh, client, "diagnosis")
    context = await recv_context(channel)
    count = int.from_bytes(await channel.recv(), "big")
    w, b = weights[:-1].tolist(), float(weights[-1])
    for _ in range(count):
        encrypted = await recv_ckks_vector(channel, context)
        await send_ckks_vector(channel, private_score(encrypted, w, b, context))
    return count
