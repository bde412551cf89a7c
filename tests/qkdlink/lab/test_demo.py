"""The key-delivery round trip: the slave gets the master's keys; the output never shows a
fixed function of the key material."""

from __future__ import annotations

from qkdlink.lab._demo import key_delivery_round_trip


async def test_round_trip_matches_without_publishing_a_key_function() -> None:
    runs: list[list[str]] = []
    for _ in range(2):
        lines: list[str] = []
        assert await key_delivery_round_trip(number=2, size=256, out=lines.append) == 0
        runs.append(lines)
    fingerprints = []
    for lines in runs:
        (line,) = [line for line in lines if line.startswith("fingerprint")]
        assert line.endswith(": match")
        fingerprints.append(line)
    # The lab's test key source is deterministic, so both runs deliver the same key bytes: an
    # unsalted hash would print the same string twice (a value to test key guesses against).
    assert fingerprints[0] != fingerprints[1]
