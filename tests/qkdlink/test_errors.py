"""The exception hierarchy: one root, protocol errors re-exported, no key material in messages."""

from __future__ import annotations

import inspect

import protocols.errors
import qkdlink.errors
from qkdlink.errors import PartyDisconnectedError, QkdlinkError


def test_every_exported_error_derives_from_the_root() -> None:
    for name in qkdlink.errors.__all__:
        obj = getattr(qkdlink.errors, name)
        assert inspect.isclass(obj), name
        assert issubclass(obj, QkdlinkError), name


def test_protocol_errors_are_the_same_classes() -> None:
    for name in protocols.errors.__all__:
        assert getattr(qkdlink.errors, name) is getattr(protocols.errors, name)


def test_party_disconnected_names_the_party() -> None:
    err = PartyDisconnectedError("hospital-b", "timed out")
    assert err.party == "hospital-b"
    assert "hospital-b" in str(err)
