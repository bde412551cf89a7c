"""Private diagnosis: the server's reply carries the score and nothing else about the model.

The client holds the secret key, so it can decrypt every CKKS slot of the reply, not only the
score's; these tests do exactly that (SEAL's decoder over all N/2 slots) and try the recovery
of the weights from running partial sums (w_k = (slot_k - slot_{k+1}) / x_k).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tenseal as ts
import tenseal.sealapi as sealapi

from integrations.hospitals._circuit_privacy import FLOOD_BOUND, flood
from integrations.hospitals._data import HOSPITALS
from integrations.hospitals._diagnosis import diagnosis_server, make_ckks_context
from integrations.tenseal import (
    MeshPeerChannel,
    recv_ckks_vector,
    send_ckks_vector,
    send_context,
)
from qkdlink.errors import LocalProtocolError
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig

CKKS_ERROR = 1e-4
"""Generous bound on the CKKS error of the masked score without flooding (measured ~1e-5)."""


def _all_slots(context: Any, vector: Any) -> npt.NDArray[np.complex128]:
    """Every slot of `vector`'s ciphertext, real and imaginary parts, as its key holder sees it."""
    seal_context = context.seal_context().data
    decryptor = sealapi.Decryptor(seal_context, context.secret_key().data)
    plain = sealapi.Plaintext()
    decryptor.decrypt(vector.data.ciphertext()[0], plain)
    return np.array(sealapi.CKKSEncoder(seal_context).decode_complex(plain))


async def _query_server(
    patients: npt.NDArray[np.float64], weights: npt.NDArray[np.float64]
) -> tuple[Any, list[Any]]:
    """The real `diagnosis_server` over an in-memory mesh; a client that keeps the raw replies."""
    net, pool = MemoryNetwork(), InMemoryKeyPool()
    client, server = HOSPITALS[2], HOSPITALS[0]
    parties = (server, client)
    context = make_ckks_context()

    async def run_client(mesh: Mesh) -> list[Any]:
        channel = MeshPeerChannel(mesh, server, "diagnosis")
        await send_context(channel, context)
        await channel.send(len(patients).to_bytes(4, "big"))
        for row in patients:
            await send_ckks_vector(channel, ts.ckks_vector(context, row.tolist()))
        return [await recv_ckks_vector(channel, context) for _ in patients]

    async def party(name: str) -> Any:
        async with Mesh(
            MeshConfig(name, parties), net.transport(name), keys=pool.provider(name)
        ) as m:
            if name == client:
                return await run_client(m)
            return await diagnosis_server(m, client, weights)

    served, replies = await asyncio.wait_for(asyncio.gather(*(party(p) for p in parties)), 120)
    assert served == len(patients)
    return context, replies


async def test_reply_slots_other_than_the_score_hold_only_bounded_noise() -> None:
    rng = np.random.default_rng(7)
    patients = rng.normal(size=(2, 30))
    patients[:, 0] = 1.5  # away from zero, so the recovery below divides by a sizeable x_0
    weights = np.append(rng.normal(size=30), 0.75)  # bias last
    w, b = weights[:-1], float(weights[-1])
    context, replies = await _query_server(patients, weights)
    for x, reply in zip(patients, replies, strict=True):
        plain = float(x @ w + b)
        # The client's own decryption: the score within the 1e-3.
        assert reply.size() == 1
        assert abs(reply.decrypt()[0] - plain) <= 1e-3
        slots = _all_slots(context, reply)
        assert len(slots) == 4096
        assert abs(slots[0].real - plain) <= FLOOD_BOUND + CKKS_ERROR
        # Every other slot, and every imaginary part, is the flooding noise and nothing else:
        # no running partial sums (magnitude ~|x||w|), no replicated bias (0.75).
        others = np.concatenate([slots[1:].real, slots.imag])
        assert np.max(np.abs(others)) <= FLOOD_BOUND + CKKS_ERROR
        # ... and the noise is really there (uniform on [-B, B]: standard deviation B / sqrt 3).
        assert np.std(others) == pytest.approx(FLOOD_BOUND / np.sqrt(3), rel=0.05)
        # The reviewer's recovery from one reply: nothing of w comes out but noise.
        recovered = (slots[:30].real - slots[1:31].real) / x
        assert np.all(np.abs(recovered[1:]) <= 2 * (FLOOD_BOUND + CKKS_ERROR) / np.abs(x[1:]))
        assert np.linalg.norm(recovered[1:] - w[1:]) > 0.9 * np.linalg.norm(w[1:])
        assert abs(slots[40].real - b) > 0.7  # the bias slot the old reply exposed


def test_flooding_keeps_the_score_and_refuses_a_multi_ciphertext_vector() -> None:
    context = make_ckks_context()
    vector = ts.ckks_vector(context, [0.25, -2.0, 3.5])
    flooded = flood(vector, context)
    assert flooded.size() == 3
    values = np.array(flooded.decrypt())
    assert np.max(np.abs(values - [0.25, -2.0, 3.5])) <= FLOOD_BOUND + CKKS_ERROR
    long = ts.ckks_vector(context, [1.0] * 5000)  # two ciphertexts of 4096 slots
    with pytest.raises(LocalProtocolError):
        flood(long, context)
