"""Property: the parsers return a message or report SipPeerError, and nothing else, whatever
the bytes (h11's rule: any other exception from the parser is a bug)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import KeepAlive, StreamParser, check_request, parse_message
from clickphone.sip.uri import SipUri

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rfc4475"
SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.dat"))]
FUZZ = settings(
    max_examples=int(os.environ.get("CLICKPHONE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Bytes that matter to the grammar, so mutations hit interesting paths more often.
SPECIAL = [
    b"\r\n",
    b"\r\n ",
    b"\r\n\r\n",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b"[",
    b"]",
    b"@",
    b"%",
    b"=",
    b"/",
    b" ",
    b"\t",
    b"\x00",
    b"\xff",
    b"0",
    b"99999999999",
    b"SIP/2.0",
    b"Content-Length: ",
    b"l: 5",
    b"Via: ",
    b"CSeq: 1 ",
    b"\xc3",
]


def check(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipPeerError as exc:
        assert isinstance(exc.status_hint, int)
        return
    assert isinstance(msg, SipRequest | SipResponse)
    # a parsed message always serialises, re-parses and exposes its mandatory views
    again = parse_message(msg.to_bytes())
    assert [h for h in again.headers if h[0] != "Content-Length"] == [
        h for h in msg.headers if h[0] != "Content-Length"
    ]
    assert (again.start_line(), again.body) == (msg.start_line(), msg.body)
    _ = (msg.call_id, msg.cseq, msg.vias, msg.from_, msg.to, msg.contacts)
    if isinstance(msg, SipRequest):
        result = check_request(msg)
        assert result is None or isinstance(result[0], int)
        check_request(msg, forwarding=True)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(data)))
        action = draw(st.integers(0, 3))
        if action == 0:
            del data[pos : pos + draw(st.integers(1, 20))]
        elif action == 1:
            data[pos:pos] = draw(st.sampled_from(SPECIAL))
        elif action == 2:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif pos < len(data):
            data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.lists(st.sampled_from([*SPECIAL, b"INVITE", b"sip:a@b", b"X"]), max_size=60))
def test_random_token_soup(parts: list[bytes]) -> None:
    check(b"".join(parts))


@FUZZ
@given(mutated())
def test_mutated_valid_messages(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.text(max_size=200))
def test_uri_parse_only_raises_peer_errors(text: str) -> None:
    try:
        uri = SipUri.parse(text)
    except SipPeerError:
        return
    assert SipUri.parse(str(uri)) == uri


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=3), st.lists(st.integers(1, 400), max_size=8))
def test_stream_parser(messages: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(messages)
    parser = StreamParser(max_size=4000)
    pos = 0
    out: list[object] = []
    for size in [*cuts, len(stream)]:
        out += parser.feed(stream[pos : pos + size])
        pos += size
    for item in out:
        assert isinstance(item, SipRequest | SipResponse | SipPeerError | KeepAlive)
    fatal = [i for i, item in enumerate(out) if isinstance(item, SipPeerError) and item.fatal]
    assert not fatal or fatal == [len(out) - 1]  # nothing follows a fatal error
