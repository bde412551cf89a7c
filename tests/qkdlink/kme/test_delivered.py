"""The KME's delivered-keys counters: every committed delivery once, nothing refused or undone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from qkdlink.errors import ConfigurationError
from qkdlink.kme import DeliveredKeys
from qkdlink.lab import Lab, LabSpec
from tests.qkdlink.kme.conftest import SAE_A, SAE_B, A, B, Sae, url


def _ids(reply_body: dict[str, object]) -> list[str]:
    keys = reply_body["keys"]
    assert isinstance(keys, list)
    return [str(k["key_ID"]) for k in keys]


async def _dec(sae: Sae, spec: LabSpec, node: str, master: str, ids: list[str]) -> list[str]:
    reply = await sae.request(
        "POST",
        url(spec, node, master, "dec_keys"),
        json_body={"key_IDs": [{"key_ID": i} for i in ids]},
    )
    assert reply.status == 200, reply.body
    return _ids(reply.body)


async def test_counts_equal_the_distinct_keys_delivered_both_ways(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae
) -> None:
    assert lab.delivered_keys(A) == lab.delivered_keys(B) == DeliveredKeys(0, 0)
    # Concurrent enc_keys in both directions (A master for B, B master for A), mixed sizes.
    numbers = [1, 3, 2, 5, 4, 1, 7]
    a_replies, b_replies = await asyncio.gather(
        asyncio.gather(
            *(
                sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + f"?number={n}")
                for n in numbers
            )
        ),
        asyncio.gather(
            *(
                sae_b.request("POST", url(lab_spec, B, SAE_A, "enc_keys"), json_body={"number": n})
                for n in numbers[:4]
            )
        ),
    )
    assert all(r.status == 200 for r in (*a_replies, *b_replies))
    a_ids = [i for r in a_replies for i in _ids(r.body)]
    b_ids = [i for r in b_replies for i in _ids(r.body)]
    assert len(set(a_ids)) == len(a_ids) == sum(numbers)
    assert len(set(b_ids)) == len(b_ids) == sum(numbers[:4])
    # The slaves fetch part of them, in several requests.
    got_at_b = await _dec(sae_b, lab_spec, B, SAE_A, a_ids[:5])
    got_at_b += await _dec(sae_b, lab_spec, B, SAE_A, a_ids[5:9])
    got_at_a = await _dec(sae_a, lab_spec, A, SAE_B, b_ids[:6])
    assert lab.delivered_keys(A) == DeliveredKeys(enc_keys=len(a_ids), dec_keys=len(got_at_a))
    assert lab.delivered_keys(B) == DeliveredKeys(enc_keys=len(b_ids), dec_keys=len(got_at_b))
    assert lab.delivered_keys(A).to_json() == {"enc_keys": 23, "dec_keys": 6}


async def test_refused_and_rolled_back_deliveries_do_not_count(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae, sae_b2: Sae
) -> None:
    enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=3")
    ids = _ids(enc.body)
    bad_enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?size=100")
    assert bad_enc.status == 400
    dec = url(lab_spec, B, SAE_A, "dec_keys")
    unknown = str(uuid.uuid4())
    # All or nothing: one unknown ID rolls back the take of the two known ones.
    mixed = await sae_b.request(
        "POST", dec, json_body={"key_IDs": [{"key_ID": ids[0]}, {"key_ID": unknown}]}
    )
    assert mixed.status == 400
    # A key of another pair (SAE_B2 is not its slave): 401, nothing taken.
    foreign = await sae_b2.request("POST", dec, json_body={"key_IDs": [{"key_ID": ids[1]}]})
    assert foreign.status == 401
    assert lab.delivered_keys(A) == DeliveredKeys(enc_keys=3, dec_keys=0)
    assert lab.delivered_keys(B) == DeliveredKeys(enc_keys=0, dec_keys=0)
    # The rolled-back keys are still there: delivered now, and counted once.
    assert await _dec(sae_b, lab_spec, B, SAE_A, ids) == ids
    again = await sae_b.request("POST", dec, json_body={"key_IDs": [{"key_ID": ids[2]}]})
    assert again.status == 400  # already delivered: not a second delivery
    assert lab.delivered_keys(B) == DeliveredKeys(enc_keys=0, dec_keys=3)
    # enc_keys the peer KME never confirmed (it is down): 503, and no delivery counted.
    await lab.stop_node(B)
    failed = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=4")
    assert failed.status == 503
    assert lab.delivered_keys(A) == DeliveredKeys(enc_keys=3, dec_keys=0)


async def test_lab_reads_counters_only_of_running_in_process_nodes(lab: Lab) -> None:
    await lab.stop_node(B)
    with pytest.raises(ConfigurationError, match="not running"):
        lab.delivered_keys(B)
    with pytest.raises(ConfigurationError, match="no lab node"):
        lab.delivered_keys("hospital-z")
    await lab.start_node(B)
    assert lab.delivered_keys(B) == DeliveredKeys(0, 0)  # a restarted KME counts from zero
