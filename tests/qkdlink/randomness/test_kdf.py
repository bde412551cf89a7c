"""Domain-separation encoding and HKDF (pinned by RFC 5869 appendix A.1, test case 1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdlink.errors import LocalProtocolError
from qkdlink.randomness._kdf import encode_label, expand, extract_and_expand

# RFC 5869, Appendix A.1 (Test Case 1, SHA-256).
RFC5869_IKM = bytes.fromhex("0b" * 22)
RFC5869_SALT = bytes.fromhex("000102030405060708090a0b0c")
RFC5869_INFO = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
RFC5869_PRK = bytes.fromhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
RFC5869_OKM = bytes.fromhex(
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
)


def test_rfc5869_case1_expand() -> None:
    assert expand(RFC5869_PRK, RFC5869_INFO, 42) == RFC5869_OKM


def test_rfc5869_case1_extract_and_expand() -> None:
    assert extract_and_expand(RFC5869_IKM, RFC5869_SALT, RFC5869_INFO, 42) == RFC5869_OKM


fields = st.lists(st.one_of(st.text(max_size=8), st.binary(max_size=8), st.integers(0, 99)))


@given(fields, fields)
def test_label_encoding_is_injective(
    a: list[str | bytes | int], b: list[str | bytes | int]
) -> None:
    def canonical(items: list[str | bytes | int]) -> list[tuple[str, bytes]]:
        out = []
        for x in items:
            if isinstance(x, int):
                out.append(("i", x.to_bytes(8, "big")))
            elif isinstance(x, str):
                out.append(("s", x.encode()))
            else:
                out.append(("b", x))
        return out

    if canonical(a) != canonical(b):
        assert encode_label(*a) != encode_label(*b)


def test_label_keeps_field_types_apart() -> None:
    # An integer and the 8 bytes that spell it, or text and its UTF-8 bytes, are different
    # fields: two constructions that put different types at one position never share a stream.
    assert encode_label("c", 5) != encode_label("c", (5).to_bytes(8, "big"))
    assert encode_label("c", 5) != encode_label("c", (5).to_bytes(8, "big").decode())
    assert encode_label("party") != encode_label(b"party")


def test_label_rejects_negative_and_oversized() -> None:
    with pytest.raises(LocalProtocolError):
        encode_label(-1)
    with pytest.raises(LocalProtocolError):
        encode_label(b"x" * 70000)


def test_expand_rejects_short_prk() -> None:
    with pytest.raises(LocalProtocolError):
        expand(b"short", b"info")
