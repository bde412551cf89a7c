"""`qkdlink selftest noise FILE` over the cacophony file, a corrupted copy and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qkdlink.cli import main

CACOPHONY = Path(__file__).parents[2] / "protocols" / "noise" / "vectors" / "cacophony.json"


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_the_cacophony_file_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selftest", "noise", str(CACOPHONY)]) == 0
    assert _last_line(capsys) == "944 passed, 0 failed"


def test_a_corrupted_vector_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = json.loads(CACOPHONY.read_text())["vectors"][:5]
    vectors[2]["handshake_hash"] = "ff" + vectors[2]["handshake_hash"][2:]
    vectors[3]["protocol_name"] = "Noise_XX_25519_ChaChaPoly_MD5"
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps({"vectors": vectors}))
    assert main(["selftest", "noise", str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL 2 " in out
    assert "FAIL 3 " in out
    assert out.strip().splitlines()[-1] == "3 passed, 2 failed"


def test_verbose_lists_passing_vectors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vectors = json.loads(CACOPHONY.read_text())["vectors"][:2]
    path = tmp_path / "v.json"
    path.write_text(json.dumps(vectors))  # a bare list is accepted too
    assert main(["selftest", "noise", "-v", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok   ") == 2
    assert out.strip().splitlines()[-1] == "2 passed, 0 failed"


def test_malformed_vectors_are_counted_as_failures_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = json.loads(CACOPHONY.read_text())["vectors"][0]
    malformed = [
        {**good, "protocol_name": 5},
        {**good, "messages": "zz"},
        {**good, "messages": [7]},
        {**good, "init_psks": 3},
        {**good, "init_ephemeral": ["00"]},
        good,
    ]
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps({"vectors": malformed}))
    assert main(["selftest", "noise", str(path)]) == 1
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("FAIL")] == [
        "0", "1", "2", "3", "4",
    ]  # fmt: skip
    assert out.strip().splitlines()[-1] == "1 passed, 5 failed"


@pytest.mark.parametrize(
    "content", ["not json", '{"vectors": 3}', "[1, 2]", "[]", '{"vectors": []}']
)
def test_unreadable_files(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code = main(["selftest", "noise", str(path)])
    if content == "[1, 2]":
        assert code == 1
        assert _last_line(capsys) == "0 passed, 2 failed"
    else:
        assert code == 2


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    assert main(["selftest", "noise", str(tmp_path / "absent.json")]) == 2
