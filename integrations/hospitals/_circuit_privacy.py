"""What the diagnosis server returns: the score alone, masked and noise-flooded, freshly encrypted.

`encrypted.dot(w) + b` leaves running partial sums of x * w in the other CKKS slots (TenSEAL
rotates and adds), so a client holding the secret key would read the weights off one reply.
The server therefore multiplies by the plaintext mask [1, 0, 0, ...] (every other slot becomes
CKKS error, ~1e-7) and then adds a fresh public-key encryption of uniform noise in [-B, B] in
the real and imaginary part of every slot: noise flooding (smudging), the counter-measure of
Li and Micciancio, "On the Security of Homomorphic Encryption on Approximate Numbers",
EUROCRYPT 2021; being a fresh encryption, it also re-randomizes both ciphertext components.
B is bounded by the scenario's 1e-3 score tolerance, so the flooding is far from the 2^-40
statistical distance full circuit privacy needs (docs/integrations.md, what each party learns).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qkdlink.errors import LocalProtocolError

__all__ = ["FLOOD_BOUND", "SCORE_MASK", "flood", "private_score"]

SCORE_MASK = [1.0]
"""A one-element plaintext: TenSEAL encodes it as [1, 0, 0, ...] (a scalar would fill every
slot), so multiplying by it keeps slot 0 and clears the rest."""

FLOOD_BOUND = 2.0**-11
"""B ~ 4.9e-4: the flooding noise's bound per slot (real and imaginary part), half the 1e-3
score tolerance, far above the ~1e-5 CKKS error of the score."""


def private_score(encrypted: Any, weights: list[float], bias: float, context: Any) -> Any:
    """<x, w> + b in slot 0 of a fresh-looking ciphertext; every other slot holds only noise.

    Uses the one multiplicative level the dot product leaves (N = 8192, [60, 40, 40, 60]).
    """
    return flood((encrypted.dot(weights) + bias) * SCORE_MASK, context)


def _uniform(count: int, bound: float) -> npt.NDArray[np.float64]:
    """Independent uniform values in [-bound, bound) from the OS CSPRNG (53 random bits each)."""
    raw = np.frombuffer(os.urandom(8 * count), dtype=np.uint64) >> np.uint64(11)
    return raw.astype(np.float64) * (2.0 * bound / 2.0**53) - bound


def flood(vector: Any, context: Any, bound: float = FLOOD_BOUND) -> Any:
    """`vector` plus a public-key encryption of uniform noise in [-bound, bound) in every slot.

    The noise is encoded at the vector's level and scale (TenSEAL's own encryption only takes
    real values and a vector no longer than the result, so SEAL's API does it), and the sum is
    put back into the vector's TenSEAL serialization.

    Raises:
        LocalProtocolError: the vector is not a single-ciphertext CKKS vector.
    """
    import tenseal.sealapi as sealapi

    ciphertexts = vector.data.ciphertext()
    if len(ciphertexts) != 1:
        raise LocalProtocolError("only a single-ciphertext CKKS vector can be flooded")
    result = ciphertexts[0]
    seal_context, encoder, encryptor, evaluator = _seal_tools(context)
    slots = encoder.slot_count()
    noise = _uniform(slots, bound) + 1j * _uniform(slots, bound)
    plain = sealapi.Plaintext()
    encoder.encode(noise.tolist(), result.parms_id(), result.scale, plain)
    fresh = sealapi.Ciphertext(seal_context)
    encryptor.encrypt(plain, fresh)
    evaluator.add_inplace(result, fresh)
    with tempfile.TemporaryDirectory(prefix="qkdlink-ckks-") as tmp:
        path = Path(tmp) / "ciphertext"
        result.save(str(path))  # SEAL's stream format, the one TenSEAL's vectors embed
        raw = path.read_bytes()
    import tenseal as ts

    return ts.ckks_vector_from(context, _with_ciphertext(vector.serialize(), raw))


@functools.lru_cache(maxsize=4)
def _seal_tools(context: Any) -> tuple[Any, Any, Any, Any]:
    """SEAL's context, encoder, public-key encryptor and evaluator for a TenSEAL context, built
    once per context rather than once per flooded reply."""
    import tenseal.sealapi as sealapi

    seal_context = context.seal_context().data
    return (
        seal_context,
        sealapi.CKKSEncoder(seal_context),
        sealapi.Encryptor(seal_context, context.public_key().data),
        sealapi.Evaluator(seal_context),
    )


_CIPHERTEXTS = 2
"""Field number of the ciphertexts in TenSEAL's CKKSVectorProto (tenseal/proto/tensors.proto:
sizes = 1, ciphertexts = 2, scale = 3)."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise LocalProtocolError("truncated TenSEAL vector serialization")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if byte < 0x80:
            return value, pos


def _with_ciphertext(serialized: bytes, ciphertext: bytes) -> bytes:
    """A CKKSVectorProto with its one ciphertext replaced (sizes and scale kept byte for byte)."""
    out = bytearray()
    replaced = 0
    pos = 0
    while pos < len(serialized):
        start = pos
        key, pos = _read_varint(serialized, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(serialized, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _read_varint(serialized, pos)
            pos += length
        else:
            raise LocalProtocolError(f"unexpected protobuf wire type {wire}")
        if pos > len(serialized):
            raise LocalProtocolError("truncated TenSEAL vector serialization")
        if field == _CIPHERTEXTS and wire == 2:
            out += _varint(key) + _varint(len(ciphertext)) + ciphertext
            replaced += 1
        else:
            out += serialized[start:pos]
    if replaced != 1:
        raise LocalProtocolError("expected exactly one ciphertext in the TenSEAL vector")
    return bytes(out)
