"""`qkdlink sim bb84` options the contract tests leave out: `--ec cascade`, `--decoy none` and
`--eve-pns`, each run through the CLI on a small seeded block and read back from its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qkdlink.cli import main

CHEAP_BLOCK = ["--pulses", "5e7", "--distance-km", "0", "--misalignment", "0.01"]
PNS_BLOCK = ["--pulses", "6.2e8", "--distance-km", "25"]  # the default block size at 25 km


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["sim", "bb84", "--json", *args]) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def test_textbook_cascade_leaks_more_than_the_optimised_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    optimised = _run(capsys, *CHEAP_BLOCK, "--seed", "5", "--ec", "cascade-opt")
    textbook = _run(capsys, *CHEAP_BLOCK, "--seed", "5", "--ec", "cascade")
    for summary in (optimised, textbook):
        assert summary["aborted"] is False
        assert summary["keys_equal"] is True
    # Same seed, same block: only error correction differs.
    assert textbook["detections"] == optimised["detections"]
    assert textbook["qber"] == optimised["qber"]
    assert textbook["ec_efficiency"] > optimised["ec_efficiency"] > 1.0
    assert textbook["ec_leaked_bits"] > optimised["ec_leaked_bits"]
    assert textbook["final_key_bits"] < optimised["final_key_bits"]
    # Textbook Cascade: four passes, a few dozen round trips; cascade-opt: far more, smaller.
    assert textbook["round_trips"] < optimised["round_trips"]


def test_without_decoys_the_finite_key_chain_refuses_what_the_naive_model_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = _run(capsys, *CHEAP_BLOCK, "--seed", "5", "--decoy", "none")
    model = summary["model"]
    assert len(model["gains"]) == len(model["qbers"]) == 1  # one intensity class
    assert model["y1_lower"] is None
    assert model["e1_upper"] is None
    # The asymptotic model of a pre-decoy system counts every detection as a single photon ...
    assert model["accepted"] is True
    assert model["insecure"] is False  # ... which, without Eve, happens to be true here.
    # The post-processing bounds the single photons by GLLP: at μ = 0.48 more multi-photon
    # pulses are sent (8.4%) than detections happen (2.1%), so none are certainly single.
    assert summary["aborted"] is True
    assert str(summary["abort_reason"]).startswith(
        "no key: phase-error bound 0.5000 with 0 single-photon bits"
    )
    assert summary["final_key_bits"] == 0
    assert summary["keys_equal"] is False


def test_pns_is_caught_by_the_decoys(capsys: pytest.CaptureFixture[str]) -> None:
    honest = _run(capsys, *PNS_BLOCK)
    attacked = _run(capsys, *PNS_BLOCK, "--eve-pns")
    assert honest["aborted"] is False
    assert honest["keys_equal"] is True
    assert honest["model"]["eve_known_fraction"] == 0.0
    # PNS leaves the QBER alone but starves the weak decoy: the single-photon bound collapses.
    assert abs(attacked["qber"] - honest["qber"]) < 0.005
    assert attacked["model"]["eve_known_fraction"] > 0.5
    assert attacked["model"]["y1_lower"] < 0.5 * honest["model"]["y1_lower"]
    assert attacked["model"]["accepted"] is False
    assert attacked["model"]["insecure"] is False
    assert attacked["aborted"] is True
    assert str(attacked["abort_reason"]).startswith("no key: phase-error bound")
    assert attacked["final_key_bits"] == 0


def test_pns_without_decoys_fools_the_naive_model_not_the_chain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = _run(capsys, *PNS_BLOCK, "--decoy", "none", "--eve-pns")
    model = summary["model"]
    assert model["eve_known_fraction"] > 0.5
    assert model["accepted"] is True
    assert model["insecure"] is True  # the model would keep key Eve knows
    assert summary["aborted"] is True  # GLLP refuses it
    assert str(summary["abort_reason"]).startswith("no key: phase-error bound 0.5000")
