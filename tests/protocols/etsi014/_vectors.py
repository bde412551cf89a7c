"""Loading the ETSI 014 test vectors (JSON data files under `vectors/`, each with its source)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTOR_DIR = Path(__file__).parent / "vectors"


def load(name: str) -> dict[str, Any]:
    """One vector file, as decoded JSON."""
    data: dict[str, Any] = json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))
    return data


def cases(name: str) -> list[Any]:
    """The vectors of a file as pytest params, one per vector, id'd by the vector's id."""
    out = []
    for vector in load(name)["vectors"]:
        assert vector["source"], f"{name}:{vector['id']} has no source"
        out.append(pytest.param(vector, id=vector["id"]))
    return out


def body_bytes(vector: dict[str, Any]) -> bytes:
    """The raw body of a vector: verbatim text, hex bytes, or a JSON value to encode."""
    if "body_text" in vector:
        text: str = vector["body_text"]
        return text.encode("utf-8")
    if "body_hex" in vector:
        return bytes.fromhex(vector["body_hex"])
    return json.dumps(vector["body"]).encode("utf-8")
