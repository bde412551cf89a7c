"""Every vector of the cacophony Noise test-vector file, one test each.

Source of the data: haskell-cryptography/cacophony `vectors/cacophony.txt`, copied verbatim to
`vectors/cacophony.json` (see `vectors/README.md`). Each vector pins every
handshake ciphertext, the handshake hash and the transport ciphertexts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocols.noise import VectorMismatchError, check_vector

CACOPHONY = Path(__file__).parent / "vectors" / "cacophony.json"
VECTORS: list[dict[str, Any]] = json.loads(CACOPHONY.read_text())["vectors"]


def test_the_file_holds_all_944_vectors() -> None:
    assert len(VECTORS) == 944


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[f"{v['protocol_name']}-{i}" for i, v in enumerate(VECTORS)]
)
def test_vector(vector: dict[str, Any]) -> None:
    check_vector(vector)


@pytest.mark.parametrize("field", ["ciphertext", "handshake_hash", "transport"])
def test_a_corrupted_vector_is_reported(field: str) -> None:
    vector = json.loads(json.dumps(VECTORS[0]))
    if field == "handshake_hash":
        vector["handshake_hash"] = "00" + vector["handshake_hash"][2:]
    else:
        index = 0 if field == "ciphertext" else len(vector["messages"]) - 1
        ciphertext = vector["messages"][index]["ciphertext"]
        vector["messages"][index]["ciphertext"] = ciphertext[:-2] + (
            "00" if ciphertext[-2:] != "00" else "01"
        )
    with pytest.raises(VectorMismatchError):
        check_vector(vector)
