"""Fixed-point codec and PRZS-masked secure sums: exact sums, masked vectors look random."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from integrations.hospitals._data import HOSPITALS, load_split
from integrations.hospitals._training import (
    TrainingConfig,
    decode,
    encode,
    fit_centralised,
    predict,
    secure_sum,
    train_jointly,
)
from qkdlink.keyprovider import InMemoryKeyPool
from qkdlink.mesh import MemoryNetwork, Mesh, MeshConfig


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_fixed_point_round_trip_and_additive(values: list[float]) -> None:
    a = np.array(values)
    assert np.allclose(decode(encode(a)), a, atol=1e-6)
    assert np.allclose(decode(encode(a) + encode(-2 * a)), -a, atol=2e-6)


async def run_all(body):  # type: ignore[no-untyped-def]
    net, pool = MemoryNetwork(), InMemoryKeyPool()

    async def one(h: str):  # type: ignore[no-untyped-def]
        async with Mesh(MeshConfig(h, HOSPITALS), net.transport(h), keys=pool.provider(h)) as mesh:
            return await body(mesh, await mesh.przs("t"))

    return await asyncio.wait_for(asyncio.gather(*(one(h) for h in HOSPITALS)), 60)


async def test_secure_sum_is_exact_and_only_masked_vectors_travel() -> None:
    inputs = {h: np.arange(5.0) * (i + 1) for i, h in enumerate(HOSPITALS)}
    seen: dict[str, list[np.ndarray]] = {}

    async def body(mesh: Mesh, przs):  # type: ignore[no-untyped-def]
        original = mesh.gather_arrays

        async def spy(tag, array):  # type: ignore[no-untyped-def]
            got = await original(tag, array)
            seen[mesh.party] = [got[p] for p in mesh.peers]
            return got

        mesh.gather_arrays = spy  # type: ignore[method-assign]
        return await secure_sum(mesh, przs, "s", inputs[mesh.party])

    results = await run_all(body)
    for r in results:
        assert np.allclose(r, np.arange(5.0) * 6, atol=1e-5)
    for vectors in seen.values():
        for v in vectors:  # what a hospital received is not any plain encoding
            assert not any(np.array_equal(v, encode(x)) for x in inputs.values())


async def test_joint_training_matches_centralised_within_one_point() -> None:
    data = load_split()
    cfg = TrainingConfig()

    async def body(mesh: Mesh, przs):  # type: ignore[no-untyped-def]
        part = data.partitions[mesh.party]
        return await train_jointly(mesh, przs, part.X, part.y, cfg)

    results = await run_all(body)
    scaler, w = results[0]
    assert all(np.array_equal(r[1], w) for r in results)
    X = np.vstack([p.X for p in data.partitions.values()])
    y = np.concatenate([p.y for p in data.partitions.values()])
    c_scaler, c_w = fit_centralised(X, y, cfg)
    joint = (predict(w, scaler.transform(data.X_test)) == data.y_test).mean()
    central = (predict(c_w, c_scaler.transform(data.X_test)) == data.y_test).mean()
    assert abs(joint - central) <= 0.01
    assert central > 0.9
