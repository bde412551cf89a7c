"""`KeyIds.from_json`'s fast path for plain bodies: the same result or the same error as the
generic strict parser (`from_dict` of `load_object`) on every input."""

from __future__ import annotations

import uuid

from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocols.etsi014 import KeyIds, ParseError
from protocols.etsi014._json import load_object

_MAX = 4096


def _strict(data: bytes) -> object:
    try:
        return KeyIds.from_dict(load_object(data, max_bytes=_MAX))
    except ParseError as exc:
        return ("error", exc.error.to_json())


def _fast(data: bytes) -> object:
    try:
        return KeyIds.from_json(data, max_bytes=_MAX)
    except ParseError as exc:
        return ("error", exc.error.to_json())


_HEX = "0123456789abcdefABCDEF"
_uuid_text = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    # Near misses: wrong lengths, wrong separators, braces, a non-hex digit.
    st.text(alphabet=_HEX + "-{}g ", min_size=30, max_size=40),
    st.uuids().map(lambda u: u.hex),
)
_ws = st.text(alphabet=" \t\n\r\x0b\x0c\xa0", max_size=2)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    ids: list[str] = draw(st.lists(_uuid_text, min_size=0, max_size=6))
    repeat: bool = draw(st.booleans())
    if ids and repeat:
        ids.append(draw(st.sampled_from(ids)).swapcase())  # a repeat, perhaps in another case

    def w() -> str:
        return draw(_ws)

    entries = []
    for text in ids:
        entry = f'{w()}{{{w()}"key_ID"{w()}:{w()}"{text}"{w()}}}{w()}'
        if draw(st.integers(0, 9)) == 0:
            entry = entry.replace("}", ',"key_ID_extension":{}}', 1)
        entries.append(entry)
    body = f'{w()}{{{w()}"key_IDs"{w()}:{w()}[{",".join(entries)}]{w()}}}{w()}'
    raw = body.encode("utf-8")
    mutation = draw(st.integers(0, 5))
    if raw and mutation == 0:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + raw[at + 1 :]
    elif mutation == 1:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    return raw


@settings(max_examples=400, deadline=None)
@given(_bodies())
@example(b'{"key_IDs":[]}')
@example(b'{"key_IDs":[{"key_ID":"%s"}]}' % str(uuid.UUID(int=1)).encode())
@example(b'\xef\xbb\xbf{"key_IDs":[{"key_ID":"%s"}]}' % str(uuid.UUID(int=1)).encode())
@example(b'{"key_IDs":[{"key_ID":"%s"}],"key_IDs":[]}' % str(uuid.UUID(int=1)).encode())
@example(b'{"key_IDs":[{"key_ID":"%s"}]}' % (b"0" * 8 + b"-0000" * 3 + b"-" + b"0" * 5000))
def test_fast_path_matches_the_strict_parser(data: bytes) -> None:
    assert _fast(data) == _strict(data)


def test_plain_bodies_parse_to_the_same_model_in_any_case() -> None:
    ids = [uuid.uuid4() for _ in range(1024)]
    plain = KeyIds.of(ids).to_json()
    shouted = plain.replace(b'"key_ID":"', b'"key_ID" : "').upper().replace(b'"KEY_ID', b'"key_ID')
    shouted = shouted.replace(b'"key_IDS"', b'"key_IDs"')
    assert KeyIds.from_json(plain).ids == tuple(ids)
    assert KeyIds.from_json(shouted) == KeyIds.from_json(plain)
    repeated = plain.replace(str(ids[1]).encode(), str(ids[0]).upper().encode())
    assert _fast(repeated) == _strict(repeated)
    assert isinstance(_fast(repeated), tuple)
