"""`qkdlink keys`: status/get/get-by-id against a scripted KME over mutual TLS, via lab.json or
explicit TLS files; key material only with --show-keys."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qkdlink.cli import main
from tests.qkdlink.client._fake_kme import (
    KME_ID,
    SAE_A,
    SAE_B,
    Lab,
    RunningKme,
    make_lab,
    start_kme,
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return make_lab(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def kme(lab: Lab) -> AsyncIterator[RunningKme]:
    runner, running = await start_kme(lab, lab.kme)
    yield running
    await runner.cleanup()


@pytest.fixture
def lab_json(tmp_path: Path, lab: Lab, kme: RunningKme) -> Path:
    path = tmp_path / "lab.json"
    node = {
        "kme_id": KME_ID,
        "kme_url": kme.url,
        "sae_id": SAE_A,
        "sae_cert": str(lab.sae.cert),
        "sae_key": str(lab.sae.key),
    }
    path.write_text(json.dumps({"ca_cert": str(lab.ca), "nodes": {"a": node}, "links": []}))
    return path


async def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # The handlers call asyncio.run(); the scripted KME runs on this test's loop.
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_status_json_via_lab(capsys: pytest.CaptureFixture[str], lab_json: Path) -> None:
    code, out, _ = await _run(
        capsys,
        "keys",
        "status",
        "--lab",
        str(lab_json.parent),
        "--node",
        "a",
        "--slave",
        SAE_B,
        "--json",
    )
    assert code == 0
    status = json.loads(out)
    assert status["source_KME_ID"] == KME_ID
    assert status["slave_SAE_ID"] == SAE_B


async def test_status_text_via_tls_files(
    capsys: pytest.CaptureFixture[str], lab: Lab, kme: RunningKme
) -> None:
    code, out, _ = await _run(
        capsys,
        "keys",
        "status",
        "--slave",
        SAE_B,
        "--url",
        kme.url,
        "--kme-id",
        KME_ID,
        "--cert",
        str(lab.sae.cert),
        "--key",
        str(lab.sae.key),
        "--ca",
        str(lab.ca),
    )
    assert code == 0
    assert f"source_KME_ID: {KME_ID}" in out.splitlines()


async def test_get_prints_ids_only_then_get_by_id_with_keys(
    capsys: pytest.CaptureFixture[str], lab_json: Path, kme: RunningKme, tmp_path: Path
) -> None:
    common = ["--lab", str(lab_json), "--node", "a"]
    code, out, _ = await _run(
        capsys,
        "keys",
        "get",
        "--slave",
        SAE_B,
        "--number",
        "2",
        "--size",
        "256",
        "--json",
        *common,
    )
    assert code == 0
    key_ids = json.loads(out)
    ids = [entry["key_ID"] for entry in key_ids["key_IDs"]]
    assert len(ids) == 2
    for material in kme.fake.pool.values():  # nothing secret was printed
        assert base64.b64encode(material).decode() not in out
        assert material.hex() not in out
    (tmp_path / "ids.json").write_text(out)

    code, out, _ = await _run(
        capsys,
        "keys",
        "get-by-id",
        "--master",
        SAE_A,
        "--key-ids",
        str(tmp_path / "ids.json"),
        "--show-keys",
        *common,
    )
    assert code == 0
    container = json.loads(out)
    assert [k["key_ID"] for k in container["keys"]] == ids
    assert all(len(base64.b64decode(k["key"])) == 32 for k in container["keys"])


async def test_get_text_output(capsys: pytest.CaptureFixture[str], lab_json: Path) -> None:
    code, out, _ = await _run(
        capsys, "keys", "get", "--slave", SAE_B, "--lab", str(lab_json), "--node", "a"
    )
    assert code == 0
    [line] = out.splitlines()
    assert line.endswith("  256 bits")


async def test_kme_errors_are_one_line(capsys: pytest.CaptureFixture[str], lab_json: Path) -> None:
    code, _, err = await _run(
        capsys,
        "keys",
        "get-by-id",
        "--master",
        SAE_A,
        "--lab",
        str(lab_json),
        "--node",
        "a",
        "--key-id",
        "550e8400-e29b-41d4-a716-446655440000",
    )
    assert code == 2
    assert err == (
        "qkdlink: error: KmeBadRequestError: one or more keys specified are not found on KME\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "status", "--slave", SAE_B], "give --lab and --node, or --url"),
        (["keys", "status", "--slave", SAE_B, "--lab", "x.json"], "--lab needs --node"),
        (["keys", "get-by-id", "--master", SAE_A, "--url", "https://h"], "give --key-id"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


async def test_master_and_slave_through_a_real_lab(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from qkdlink.lab import create_lab, run_lab

    spec = create_lab(tmp_path / "lab", nodes=("a", "b"))
    async with run_lab(spec):
        lab_dir = str(spec.directory)
        code, out, _ = await _run(
            capsys,
            "keys",
            "get",
            "--lab",
            lab_dir,
            "--node",
            "a",
            "--slave",
            "SAE_b",
            "--number",
            "2",
            "--json",
            "--show-keys",
        )
        assert code == 0
        master_view = json.loads(out)
        ids = tmp_path / "ids.json"
        key_ids = [{"key_ID": k["key_ID"]} for k in master_view["keys"]]
        ids.write_text(json.dumps({"key_IDs": key_ids}))
        code, out, _ = await _run(
            capsys,
            "keys",
            "get-by-id",
            "--lab",
            lab_dir,
            "--node",
            "b",
            "--master",
            "SAE_a",
            "--key-ids",
            str(ids),
            "--show-keys",
        )
        assert code == 0
        assert json.loads(out) == master_view
