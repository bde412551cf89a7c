"""numba kernels behind the channel sampler (`_channel`): one pass each over the detections.

Each kernel turns random numbers the caller drew from the block's generator into record fields,
so the draws (and hence every result for a given seed) are those of the numpy formulation; the
kernels only fuse the arithmetic that followed each draw and write straight into the record's
arrays instead of building temporaries. Importing this module imports numba (compiled on the
first call, cached on disk); `_channel` types the entry points.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simulators.bb84._channel import _N_CAT as CATEGORIES
from simulators.bb84._channel import CAT_PHOTON, CAT_SPLIT_PHOTON

_CATEGORY_BITS = 2
"""log2 of the photon categories per class (a power of two: cells split by shifts)."""

_INT64_CAP = 9.223372036854776e18
"""numpy's `random_geometric_inversion` returns INT64_MAX from this value on."""


@njit(cache=True, nogil=True)
def geometric_positions(exp, log1m_p, last, pulses, out, start, offset):  # type: ignore[no-untyped-def]
    """Success positions from standard exponentials: gap = ceil(-E / log1p(-p)) (numpy's
    geometric inversion), positions = last + running sum. Writes those < `pulses`, plus
    `offset`, from `out[start]` on; returns (how many, the last position, whether `pulses` was
    reached).
    """
    pos = last
    count = 0
    for i in range(exp.shape[0]):
        z = math.ceil(-exp[i] / log1m_p)
        gap = np.int64(9223372036854775807) if z >= _INT64_CAP else np.int64(z)
        pos += gap
        if pos >= pulses:
            return count, last, True
        out[start + count] = pos + offset
        last = pos
        count += 1
    return count, last, False


@njit(cache=True, nogil=True)
def unpack_bits(raw, out):  # type: ignore[no-untyped-def]
    """out[i] = bit i of the bytes `raw`, most significant bit first (`np.unpackbits` order),
    for every i < len(out), written in place (no unpacked temporary)."""
    n = out.shape[0]
    full = n >> 3
    for b in range(full):
        byte = raw[b]
        for k in range(8):
            out[8 * b + k] = (byte >> (7 - k)) & 1
    for i in range(8 * full, n):
        out[i] = (raw[i >> 3] >> (7 - (i & 7))) & 1


_BATCH = 1024


@njit(cache=True, nogil=True)
def classify(u, edges, repeats, cells, pulse_class, photon, split, detected):  # type: ignore[no-untyped-def]
    """Class and photon category of each detection from one uniform u: cell = #edges <= u
    (capped at the last of `cells`), class = cell // CATEGORIES; adds the detections per class
    to `detected`.
    `edges` are the distinct cumulative edges, each standing for `repeats` equal ones.

    Runs in batches, one edge at a time over the batch (loops the compiler vectorises).
    """
    last = cells - 1
    cell = np.empty(_BATCH, dtype=np.int64)
    for b0 in range(0, u.shape[0], _BATCH):
        m = min(_BATCH, u.shape[0] - b0)
        x = u[b0 : b0 + m]
        c = cell[:m]
        c[:] = 0
        for e in range(edges.shape[0]):
            edge = edges[e]
            step = repeats[e]
            for i in range(m):
                c[i] += step * (x[i] >= edge)
        for i in range(m):
            code = min(c[i], last)
            k = code >> _CATEGORY_BITS
            cat = code & (CATEGORIES - 1)
            pulse_class[b0 + i] = k
            photon[b0 + i] = (cat == CAT_PHOTON) | (cat == CAT_SPLIT_PHOTON)
            split[b0 + i] = cat >= CAT_SPLIT_PHOTON
    for k in range(detected.shape[0]):
        total = 0
        for i in range(pulse_class.shape[0]):
            total += pulse_class[i] == k
        detected[k] += total


@njit(cache=True, nogil=True)
def bob_bits(  # type: ignore[no-untyped-def]
    table, shape, alice_basis, alice_bit, eve_action, bob_basis, photon, uniforms, bob_bit, start
):
    """Bob's bit for the photon detections from `start` on: uniform < P(1) from the outcome
    table (indexed [alice_basis, alice_bit, eve_action, bob_basis], flattened in C order), one
    uniform per photon detection, in order, until `uniforms` is used up; returns where to go on.
    Other detections keep their (background) random bit."""
    j = 0
    i = start
    while i < photon.shape[0] and j < uniforms.shape[0]:
        if photon[i]:
            flat = ((alice_basis[i] * shape[1] + alice_bit[i]) * shape[2] + eve_action[i]) * shape[
                3
            ] + bob_basis[i]
            bob_bit[i] = 1 if uniforms[j] < table[flat] else 0
            j += 1
        i += 1
    return i


@njit(cache=True, nogil=True)
def eve_knowledge(split, eve_action, alice_basis):  # type: ignore[no-untyped-def]
    """In place on `split`: Eve also knows the bit she measured in Alice's basis."""
    for i in range(split.shape[0]):
        if eve_action[i] != 0 and eve_action[i] - 1 == alice_basis[i]:
            split[i] = True


@njit(cache=True, nogil=True)
def class_statistics(classes, pulse_class, alice_basis, bob_basis, alice_bit, bob_bit, eve_knows):  # type: ignore[no-untyped-def]
    """Per class: detections, sifted detections, sifted errors, sifted bits Eve knows.

    Each detection adds one to a histogram cell (class, sifted, error, known); counters that
    depend on each other (the same class again and again) would serialise the loop.
    """
    hist = np.zeros(classes * 8, dtype=np.int64)
    for i in range(pulse_class.shape[0]):
        k = np.int64(pulse_class[i])
        if k >= classes:
            raise ValueError("pulse class out of range")
        sifted = np.int64(alice_basis[i] == bob_basis[i])
        error = np.int64(alice_bit[i] != bob_bit[i])
        known = np.int64(eve_knows[i])
        hist[(k << 3) | (sifted << 2) | (sifted & error) << 1 | (sifted & known)] += 1
    out = np.zeros((4, classes), dtype=np.int64)
    for k in range(classes):
        for code in range(8):
            count = hist[(k << 3) | code]
            out[0, k] += count
            if code & 4:
                out[1, k] += count
                out[2, k] += count * ((code >> 1) & 1)
                out[3, k] += count * (code & 1)
    return out
