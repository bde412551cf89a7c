"""ChannelConfig: validated when built, secrets out of its repr."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from qkdlink.errors import ConfigurationError
from tests.qkdlink.channel._helpers import config_pair


def test_defaults_and_derived_configs() -> None:
    a, _ = config_pair()
    assert a.mode == "qkd+x25519+mlkem"
    assert a.record_config.rekey_after_time == 120.0
    assert a.record_config.reject_after_records == 2 * a.rekey_messages
    assert a.handshake_config.local_id == "hospital-a"
    assert a.static_private_key.hex() not in repr(a)


@pytest.mark.parametrize(
    "change",
    [
        {"mode": "qkd-only"},
        {"key_provider": object()},
        {"rekey_interval": 200.0},  # not below reject_after (180 s)
        {"record_size": 10},
        {"replay_window": 3},
        {"handshake_timeout": 0.0},
        {"cipher": "DES"},
        {"static_private_key": b"short"},
        {"peer_id": "hospital-a"},
    ],
)
def test_invalid_values_are_refused(change: dict[str, Any]) -> None:
    a, _ = config_pair()
    with pytest.raises(ConfigurationError):
        replace(a, **change)


class _SecretThatMustNotBeCompared(bytes):
    """A private key that fails the test if anything compares or hashes it."""

    def __eq__(self, other: object) -> bool:
        raise AssertionError("the static private key was compared")

    def __hash__(self) -> int:
        raise AssertionError("the static private key was hashed")


def test_equality_and_hash_never_touch_the_private_key() -> None:
    a, _ = config_pair()
    key = a.static_private_key
    one = replace(a, static_private_key=_SecretThatMustNotBeCompared(key))
    two = replace(a, static_private_key=_SecretThatMustNotBeCompared(key))
    assert one != two  # identity: configs are not compared field by field
    assert len({one, two, one}) == 2  # hashed by identity too
