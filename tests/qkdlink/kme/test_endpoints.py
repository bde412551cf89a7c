"""ETSI GS QKD 014 clause 5 endpoints of a KME pair: every form, delivery-once, authorization."""

from __future__ import annotations

import base64

from protocols.etsi014 import MSG_KEYS_NOT_FOUND
from qkdlink.lab import Lab, LabSpec
from tests.qkdlink.kme.conftest import SAE_A, SAE_B, SAE_B2, TEST_LIMITS, A, B, Sae, url


def _ids(body: dict[str, object]) -> list[str]:
    keys = body["keys"]
    assert isinstance(keys, list)
    return [k["key_ID"] for k in keys]


async def test_status_reports_limits_and_ids(lab: Lab, lab_spec: LabSpec, sae_a: Sae) -> None:
    reply = await sae_a.request("GET", url(lab_spec, A, SAE_B, "status"))
    assert reply.status == 200
    body = reply.body
    assert body["source_KME_ID"] == "KME_hospital-a"
    assert body["target_KME_ID"] == "KME_hospital-b"
    assert body["master_SAE_ID"] == SAE_A
    assert body["slave_SAE_ID"] == SAE_B
    assert body["key_size"] == TEST_LIMITS.key_size
    assert body["max_key_per_request"] == TEST_LIMITS.max_key_per_request
    assert body["max_SAE_ID_count"] == TEST_LIMITS.max_SAE_ID_count
    assert 0 <= body["stored_key_count"] <= body["max_key_count"]  # type: ignore[operator]


async def test_get_enc_keys_then_dec_keys_get_and_post(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae
) -> None:
    enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=3&size=512")
    assert enc.status == 200
    ids = _ids(enc.body)
    assert len(set(ids)) == len(ids) == 3
    sent = {k["key_ID"]: k["key"] for k in enc.body["keys"]}  # type: ignore[union-attr]
    assert all(len(base64.b64decode(v)) == 64 for v in sent.values())
    one = await sae_b.request("GET", url(lab_spec, B, SAE_A, "dec_keys") + f"?key_ID={ids[0]}")
    assert one.status == 200
    rest = await sae_b.request(
        "POST",
        url(lab_spec, B, SAE_A, "dec_keys"),
        json_body={"key_IDs": [{"key_ID": i} for i in ids[1:]]},
    )
    assert rest.status == 200
    got = {k["key_ID"]: k["key"] for k in [*one.body["keys"], *rest.body["keys"]]}  # type: ignore[misc]
    assert got == sent
    # Delivered once, then deleted (clause 5.4 post-condition).
    again = await sae_b.request("GET", url(lab_spec, B, SAE_A, "dec_keys") + f"?key_ID={ids[0]}")
    assert again.status == 400
    assert again.body["message"] == MSG_KEYS_NOT_FOUND


async def test_post_enc_keys_with_empty_and_full_body(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae
) -> None:
    empty = await sae_a.request("POST", url(lab_spec, A, SAE_B, "enc_keys"))
    assert empty.status == 200
    assert len(_ids(empty.body)) == 1
    key = empty.body["keys"][0]["key"]  # type: ignore[index]
    assert len(base64.b64decode(key)) == TEST_LIMITS.key_size // 8
    full = await sae_a.request(
        "POST",
        url(lab_spec, A, SAE_B, "enc_keys"),
        json_body={"number": 2, "size": 128, "extension_optional": [{"abc_x": 1}]},
    )
    assert full.status == 200
    assert len(_ids(full.body)) == 2


async def test_enc_keys_never_repeats_a_key(lab: Lab, lab_spec: LabSpec, sae_a: Sae) -> None:
    seen_ids: set[str] = set()
    seen_keys: set[str] = set()
    for _ in range(5):
        reply = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=20")
        for key in reply.body["keys"]:  # type: ignore[union-attr]
            seen_ids.add(key["key_ID"])
            seen_keys.add(key["key"])
    assert len(seen_ids) == len(seen_keys) == 100


async def test_both_directions_use_disjoint_material(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae
) -> None:
    from_a = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys") + "?number=50")
    from_b = await sae_b.request("GET", url(lab_spec, B, SAE_A, "enc_keys") + "?number=50")
    keys_a = {k["key"] for k in from_a.body["keys"]}  # type: ignore[union-attr]
    keys_b = {k["key"] for k in from_b.body["keys"]}  # type: ignore[union-attr]
    assert len(keys_a) == len(keys_b) == 50
    assert not keys_a & keys_b


async def test_additional_slaves_each_fetch_once(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b: Sae, sae_b2: Sae
) -> None:
    enc = await sae_a.request(
        "POST",
        url(lab_spec, A, SAE_B, "enc_keys"),
        json_body={"number": 2, "additional_slave_SAE_IDs": [SAE_B2]},
    )
    assert enc.status == 200
    body = {"key_IDs": [{"key_ID": i} for i in _ids(enc.body)]}
    first = await sae_b.request("POST", url(lab_spec, B, SAE_A, "dec_keys"), json_body=body)
    second = await sae_b2.request("POST", url(lab_spec, B, SAE_A, "dec_keys"), json_body=body)
    assert first.status == second.status == 200
    assert first.body == second.body == enc.body
    repeat = await sae_b2.request("POST", url(lab_spec, B, SAE_A, "dec_keys"), json_body=body)
    assert repeat.status == 400


async def test_additional_slave_on_another_kme_is_refused(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae
) -> None:
    reply = await sae_a.request(
        "POST",
        url(lab_spec, A, SAE_B, "enc_keys"),
        json_body={"additional_slave_SAE_IDs": [SAE_A + "-unknown"]},
    )
    assert reply.status == 400
    assert "same KME" in str(reply.body["message"])


async def test_unknown_slave_is_400(lab: Lab, lab_spec: LabSpec, sae_a: Sae) -> None:
    reply = await sae_a.request("GET", url(lab_spec, A, "SAE_nobody", "enc_keys"))
    assert reply.status == 400
    assert isinstance(reply.body["message"], str)


async def test_sae_of_another_kme_is_401(lab: Lab, lab_spec: LabSpec, sae_b: Sae) -> None:
    # SAE_B is attached to KME b: KME a refuses to serve it as a master.
    for endpoint in ("status", "enc_keys"):
        reply = await sae_b.request("GET", url(lab_spec, A, SAE_A, endpoint))
        assert reply.status == 401


async def test_slave_not_named_gets_401(
    lab: Lab, lab_spec: LabSpec, sae_a: Sae, sae_b2: Sae, sae_b: Sae
) -> None:
    enc = await sae_a.request("GET", url(lab_spec, A, SAE_B, "enc_keys"))
    key_id = _ids(enc.body)[0]
    stolen = await sae_b2.request("GET", url(lab_spec, B, SAE_A, "dec_keys") + f"?key_ID={key_id}")
    assert stolen.status == 401
    # Asking as if another master had requested the key is refused too.
    wrong_master = await sae_b.request(
        "GET", url(lab_spec, B, SAE_B2, "dec_keys") + f"?key_ID={key_id}"
    )
    assert wrong_master.status == 401
    # The refusals consumed nothing: the named slave still gets the key.
    ok = await sae_b.request("GET", url(lab_spec, B, SAE_A, "dec_keys") + f"?key_ID={key_id}")
    assert ok.status == 200
    assert ok.body == enc.body
