"""The KME-to-KME assignment message: round trip, strictness, hostile input."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdlink.keystore import KeyAssignment
from qkdlink.kme._bulk import new_key_ids
from qkdlink.kme._peer_wire import (
    AssignGroup,
    AssignMessage,
    PeerWireError,
    decode_assign,
    encode_assign,
)


def _message() -> AssignMessage:
    ids = new_key_ids(3)
    return AssignMessage(
        1,
        (
            AssignGroup("SAE_a", ("SAE_b",), (KeyAssignment(ids[0], 0, 32),)),
            AssignGroup(
                "SAE_a",
                ("SAE_b", "SAE_c"),
                (KeyAssignment(ids[1], 64, 16), KeyAssignment(ids[2], 80, 32)),
            ),
        ),
    )


def test_round_trip() -> None:
    message = _message()
    assert decode_assign(encode_assign(message)) == message


def _mutate(**changes: object) -> bytes:
    data = json.loads(encode_assign(_message()))
    data.update(changes)
    return json.dumps(data).encode()


KEY = "6f1c0c1e-6c8a-4a53-9c3e-6f1c0c1e6c8a"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"{",
        _mutate(extra=1),
        _mutate(partition=-1),
        _mutate(partition=True),
        _mutate(groups=[]),
        _mutate(groups=[{"master_SAE_ID": "a", "slave_SAE_IDs": ["b"], "keys": []}]),
        _mutate(groups=[{"master_SAE_ID": "a", "slave_SAE_IDs": ["b"], "keys": [[KEY, 0]]}]),
        _mutate(groups=[{"master_SAE_ID": "a", "slave_SAE_IDs": ["b"], "keys": [[KEY, 0, 0]]}]),
        _mutate(
            groups=[{"master_SAE_ID": "a", "slave_SAE_IDs": ["b"], "keys": [[KEY.upper(), 0, 8]]}]
        ),
        _mutate(groups=[{"master_SAE_ID": "", "slave_SAE_IDs": ["b"], "keys": [[KEY, 0, 8]]}]),
        _mutate(groups=[{"master_SAE_ID": "a", "slave_SAE_IDs": "b", "keys": [[KEY, 0, 8]]}]),
        # Overlapping or decreasing ranges.
        _mutate(
            groups=[
                {"master_SAE_ID": "a", "slave_SAE_IDs": ["b"], "keys": [[KEY, 8, 8], [KEY, 4, 8]]}
            ]
        ),
    ],
)
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(PeerWireError):
        decode_assign(data)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(st.binary(max_size=300))
def test_hostile_bytes_only_raise_the_wire_error(data: bytes) -> None:
    # Any other exception escaping (KeyError, TypeError, ...) fails the test.
    with contextlib.suppress(PeerWireError):
        decode_assign(data)


@given(JSON_VALUES)
def test_hostile_json_only_raises_the_wire_error(value: object) -> None:
    with contextlib.suppress(PeerWireError):
        decode_assign(json.dumps({"partition": 0, "groups": [value]}).encode())
