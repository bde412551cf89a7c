"""Model invariants the vectors do not show: secrecy of key material, local misuse, GET forms."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

import protocols.etsi014
from protocols.errors import LocalProtocolError, RemoteProtocolError
from protocols.etsi014 import (
    MSG_EXTENSION_MANDATORY_UNSUPPORTED,
    MSG_TOO_MANY_KEY_IDS,
    ErrorBody,
    Key,
    KeyContainer,
    KeyIdEntry,
    KeyIds,
    KeyRequest,
    ParseError,
    RejectedRequestError,
    Status,
    validate_key_ids,
    validate_key_request,
)

_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
_SECRET = bytes(range(1, 33))


def _status(**changes: Any) -> Status:
    base = Status(
        "K1",
        "K2",
        "S1",
        "S2",
        key_size=256,
        stored_key_count=10,
        max_key_count=100,
        max_key_per_request=2,
        max_key_size=1024,
        min_key_size=64,
        max_sae_id_count=0,
    )
    return dataclasses.replace(base, **changes)


def test_exports_are_pinned() -> None:
    assert set(protocols.etsi014.__all__) == {
        name for name in dir(protocols.etsi014) if not name.startswith("_")
    } - {"annotations"}
    for name in protocols.etsi014.__all__:
        assert getattr(protocols.etsi014, name) is not None


def test_key_material_never_in_repr_or_errors() -> None:
    key = Key(_ID, _SECRET)
    container = KeyContainer((key,))
    for text in (repr(key), str(key), repr(container)):
        assert _SECRET.hex() not in text
        assert "AQIDBAUG" not in text  # base64 of the material's start
        assert str(_ID) in text or "550e8400" in text


def test_key_equality_uses_material() -> None:
    assert Key(_ID, _SECRET) == Key(_ID, bytes(_SECRET))
    assert Key(_ID, _SECRET) != Key(_ID, _SECRET[:-1] + b"\x00")
    assert Key(_ID, _SECRET) != Key(uuid.uuid4(), _SECRET)
    with pytest.raises(TypeError):
        hash(Key(_ID, _SECRET))


def test_models_are_frozen_and_slotted() -> None:
    request = KeyRequest()
    with pytest.raises(AttributeError):
        request.number = 2  # type: ignore[misc]
    assert not hasattr(request, "__dict__")


@pytest.mark.parametrize(
    "build",
    [
        lambda: KeyRequest(number=True),
        lambda: KeyRequest(size=8.0),  # type: ignore[arg-type]
        lambda: KeyRequest(additional_slave_sae_ids=("a", "a")),
        lambda: KeyRequest(additional_slave_sae_ids=("",)),
        lambda: Key(_ID, b""),
        lambda: KeyContainer(()),
        lambda: KeyContainer((Key(_ID, b"a"), Key(_ID, b"b"))),
        lambda: KeyIds(()),
        lambda: KeyIds.of([_ID, _ID]),
        lambda: KeyIdEntry("550e8400-e29b-41d4-a716-446655440000"),  # type: ignore[arg-type]
        lambda: _status(min_key_size=2048),
        lambda: _status(max_key_per_request=0),
        lambda: ErrorBody("x", ("y",)),  # type: ignore[arg-type]
    ],
)
def test_local_misuse_is_a_local_error(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


def test_parse_errors_are_remote_errors() -> None:
    assert issubclass(ParseError, RemoteProtocolError)
    assert issubclass(RejectedRequestError, RemoteProtocolError)


def test_get_forms_refuse_what_needs_post() -> None:
    with pytest.raises(LocalProtocolError):
        KeyRequest(additional_slave_sae_ids=("X",)).to_query()
    with pytest.raises(LocalProtocolError):
        KeyIds((KeyIdEntry(_ID, {"abc": 1}),)).to_query()
    assert KeyRequest(number=2, size=256).to_query() == "number=2&size=256"
    assert KeyIds.of([_ID]).to_query() == f"key_ID={_ID}"


def test_unserializable_extension_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        KeyRequest(extension_optional=({"abc": object()},)).to_json()  # type: ignore[dict-item]


def test_body_cap_is_checked_before_decoding() -> None:
    body = b'{"number": 1' + b" " * 100 + b"}"
    assert KeyRequest.from_json(body).number == 1
    with pytest.raises(ParseError) as info:
        KeyRequest.from_json(body, max_bytes=64)
    assert info.value.error.details == ({"reason": "body is larger than 64 bytes"},)


def test_key_ids_bounded_by_max_key_per_request() -> None:
    status = _status(max_key_per_request=2)
    two = KeyIds.of([uuid.uuid4(), uuid.uuid4()])
    assert validate_key_ids(two, status) is two
    with pytest.raises(RejectedRequestError) as info:
        validate_key_ids(KeyIds.of([uuid.uuid4() for _ in range(3)]), status)
    assert info.value.message == MSG_TOO_MANY_KEY_IDS


def test_unknown_member_name_is_bounded_in_details() -> None:
    with pytest.raises(ParseError) as info:
        KeyRequest.from_json(b'{"' + b"x" * 5000 + b'": 1}')
    assert len(info.value.error.to_json()) < 300


def test_unsupported_extension_names_are_bounded_and_encodable_in_details() -> None:
    names = ["x" * 5000, "abc\ud800", *(f"abc_{i}" for i in range(40))]
    request = KeyRequest(extension_mandatory=tuple({name: 1} for name in names))
    with pytest.raises(RejectedRequestError) as info:
        validate_key_request(request, _status(), supported_extensions={"abc_0"})
    assert info.value.message == MSG_EXTENSION_MANDATORY_UNSUPPORTED
    body = info.value.error.to_json()
    assert len(body) < 2000
    details = ErrorBody.from_json(body).details
    assert len(details) == 16
    assert details[0] == {"extension_mandatory_unsupported": "x" * 100 + " is not supported"}
    assert details[1] == {"extension_mandatory_unsupported": "abc\ufffd is not supported"}
