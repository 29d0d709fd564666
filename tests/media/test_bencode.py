"""The bencode codec of the rtpengine ng client: exact bytes, round trips, strict rejections."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clickphone.media.rtpengine import BencodeError, bdecode, bencode

# A real ng offer as rtpengine's documentation shapes it (keys sorted, as we encode).
OFFER = (
    b"d3:ICE6:remove7:call-id3:abc7:command5:offer8:from-tag2:ta"
    b"7:replacel6:origin18:session-connectione3:sdp5:v=0\r\ne"
)


def test_encodes_known_bytes() -> None:
    assert bencode(0) == b"i0e"
    assert bencode(-42) == b"i-42e"
    assert bencode("") == b"0:"
    assert bencode("spam") == b"4:spam"
    assert bencode("é") == b"2:\xc3\xa9"
    assert bencode(b"\x00\xff") == b"2:\x00\xff"
    assert bencode([1, "a", []]) == b"li1e1:alee"
    assert bencode({"b": 1, "a": {"c": []}}) == b"d1:ad1:clee1:bi1ee"
    message = {
        "command": "offer",
        "call-id": "abc",
        "from-tag": "ta",
        "sdp": "v=0\r\n",
        "replace": ["origin", "session-connection"],
        "ICE": "remove",
    }
    assert bencode(message) == OFFER


def test_decodes_an_ng_message() -> None:
    assert bdecode(OFFER) == {
        "ICE": "remove",
        "call-id": "abc",
        "command": "offer",
        "from-tag": "ta",
        "replace": ["origin", "session-connection"],
        "sdp": "v=0\r\n",
    }


def test_decodes_unsorted_keys_from_rtpengine() -> None:
    # rtpengine writes keys in insertion order; accept that, but not duplicates
    assert bdecode(b"d6:result2:ok3:sdp1:xe") == {"result": "ok", "sdp": "x"}
    assert bdecode(b"d3:sdp1:x6:result2:oke") == {"sdp": "x", "result": "ok"}


def test_bytes_that_are_not_utf8_round_trip_exactly() -> None:
    raw = b"5:\xff\xfeabc"
    text = bdecode(raw)
    assert isinstance(text, str)
    assert bencode(text) == raw


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end of data at offset 0"),
        (b"i12", "unterminated integer at offset 1"),
        (b"ie", "bad integer b'' at offset 1"),
        (b"i-e", "bad integer b'' at offset 2"),
        (b"i1x2e", "bad integer b'1x2' at offset 1"),
        (b"i03e", "integer with a leading zero at offset 1"),
        (b"i-0e", "negative zero at offset 0"),
        (b"i+3e", "bad integer b'+3' at offset 1"),
        (b"03:abc", "string length with a leading zero at offset 0"),
        (b"5:abc", "string at offset 0 runs past the end of the data"),
        (b"3abc", "unterminated string length at offset 0"),
        (b"l1:a", "unterminated list"),
        (b"d1:a", "unexpected end of data at offset 4"),
        (b"d1:ai1e", "unterminated dictionary"),
        (b"di1ei2ee", "dictionary key at offset 1 is not a string"),
        (b"d1:ai1e1:ai2ee", "duplicate dictionary key 'a'"),
        (b"i1ei2e", "trailing data at offset 3"),
        (b"x", "unexpected byte b'x' at offset 0"),
        (b"l" * 40 + b"e" * 40, "nested deeper than 32"),
    ],
)
def test_malformed_input_raises_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(BencodeError) as info:
        bdecode(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "bencode has no booleans"),
        (1.5, "cannot bencode a float"),
        (None, "cannot bencode a NoneType"),
        ({1: "x"}, "dictionary key 1 is not a string"),
        ({"a": 1, b"a": 2}, "duplicate dictionary key b'a'"),
    ],
)
def test_unencodable_values_raise(value: Any, message: str) -> None:
    with pytest.raises(BencodeError) as info:
        bencode(value)
    assert str(info.value) == message


values = st.recursive(
    st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(values)
def test_round_trip(value: Any) -> None:
    data = bencode(value)
    assert bdecode(data) == value
    assert bencode(bdecode(data)) == data


@given(st.binary(max_size=60))
def test_arbitrary_bytes_decode_or_raise_bencode_error(data: bytes) -> None:
    try:
        bdecode(data)
    except BencodeError:
        pass
