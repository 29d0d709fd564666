"""The parser's fast paths (compact Via, plain name-addr, one-item lists, cached views) give
exactly what the general code gives, or refuse the same input."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import NameAddr, Via, split_list
from clickphone.sip.parser import parse_message

PIECES = [
    "SIP/2.0/UDP ",
    "SIP/2.0/TCP ",
    "sip/2.0/udp ",
    "SIP/2.0/ws ",
    "SIP / 2.0 / UDP ",
    "SIP/2.0/UDP  ",
    "host.example.com",
    "192.0.2.1",
    "[::1]",
    "_srv",
    "-bad",
    ":5060",
    ":65536",
    ":99999",
    ":",
    ":00080",
    ";branch=z9hG4bK776asdhds",
    ";BRANCH=Z9",
    ";rport",
    ";rport=5060",
    ";received=192.0.2.9",
    ";received=::1",
    ";maddr=[::1]",
    ";x=",
    ";=x",
    ";;",
    ';x="quoted ; value"',
    " ; ttl = 16",
    "<",
    ">",
    '"',
    '"Alice" ',
    '"A \\"B\\"" ',
    "Bob ",
    "sip:",
    "sips:",
    "tel:+1-555",
    "mailto:",
    "alice@example.com",
    "bob@[::1]:5070",
    ";tag=1928301774",
    ";expires=60",
    ";q=0.5",
    ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"',
    ";lr",
    ";transport=tcp",
    "?subject=x",
    ",",
    " ",
    "\t",
    "\x01",
    "é",
    "*",
]

TEXT = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)


def _one_of(*choices: str) -> st.SearchStrategy[str]:
    return st.sampled_from(choices)


_PARAMS = st.lists(
    _one_of(
        ";branch=z9hG4bK776asdhds",
        ";BRANCH=Z9",
        ";rport",
        ";rport=5060",
        ";received=192.0.2.9",
        ";received=::1",
        ";maddr=[::1]",
        ";tag=1928301774",
        ";expires=60",
        ";q=0.5",
        ";lr",
        ";x=",
        ";=x",
        ";",
        " ;ttl=1",
        ';x="a;b"',
        ";x=a b",
        ";é=1",
    ),
    max_size=4,
).map("".join)
# Mostly well-formed values with one part sometimes broken: both paths must agree on each.
VIA = st.tuples(
    _one_of("SIP/2.0/UDP ", "SIP/2.0/tcp ", "SIP/2.0/X-Y ", "sip/2.0/UDP ", "SIP/2.0/UDP  "),
    _one_of("192.0.2.1", "host.example.com", "_h", "-bad", "[::1]", "h_1.-", "", "é"),
    _one_of("", ":5060", ":0", ":65535", ":65536", ":99999", ":00080", ":", ": 5"),
    _PARAMS,
    _one_of("", " ", ",", "\t"),
).map("".join)
NAME_ADDR = st.tuples(
    _one_of("", '"Alice" ', '"Alice"', '"" ', '"A \\"B\\"" ', "Bob ", '"a', "\x01 "),
    _one_of("<", "", " <"),
    _one_of("sip:", "sips:", "tel:", "mailto:", "1x:", "", "SIP:"),
    _one_of("alice@example.com", "b@h:5070;transport=tcp", "+1-555", "a b", "x?y=z", "a<b", ""),
    _one_of(">", "", " >", ">>"),
    _PARAMS,
).map("".join)


def outcome(fn: Any, value: str) -> tuple[str, Any]:
    try:
        result = fn(value)
    except SipPeerError as exc:
        return ("error", exc.status_hint)
    return ("ok", (type(result).__name__, vars(result)))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(VIA, TEXT))
def test_via_fast_path_matches_general_parser(value: str) -> None:
    assert outcome(Via.parse, value) == outcome(Via._parse_general, value)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(NAME_ADDR, TEXT))
def test_name_addr_fast_path_matches_general_parser(value: str) -> None:
    assert outcome(NameAddr.parse, value) == outcome(NameAddr._parse_general, value)


def test_fast_path_examples_take_the_fast_path_and_agree() -> None:
    for value in (
        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport",
        "SIP/2.0/TLS host.example.com;branch=z9hG4bK2;received=::1",
    ):
        assert Via.parse(value) == Via._parse_general(value)
    for value in ('"Alice" <sip:alice@example.com>;tag=1', "<sip:b@h:5070;transport=tcp>"):
        assert NameAddr.parse(value) == NameAddr._parse_general(value)


def test_split_list_single_item_keeps_quotes_and_brackets() -> None:
    assert split_list(' "a, b" <sip:x> ') == ['"a, b" <sip:x>']
    assert split_list('"a" <sip:x;p=1>') == ['"a" <sip:x;p=1>']
    assert split_list("  ") == []
    assert split_list('<sip:a>, "b, c" <sip:b>') == ["<sip:a>", '"b, c" <sip:b>']


def test_contacts_view_follows_header_edits() -> None:
    msg = parse_message(
        b"REGISTER sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 REGISTER\r\n"
        b"Contact: <sip:a@192.0.2.1>;expires=60, <sip:a@192.0.2.2>\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert [c.uri for c in msg.contacts] == ["sip:a@192.0.2.1", "sip:a@192.0.2.2"]
    msg.contacts.clear()  # a copy: the cached view is not affected
    assert len(msg.contacts) == 2
    msg.set("Contact", "<sip:a@192.0.2.3>")
    assert [c.uri for c in msg.contacts] == ["sip:a@192.0.2.3"]
    msg.add("Contact", "*")
    assert [c.uri for c in msg.contacts] == ["sip:a@192.0.2.3"]
    msg.remove("Contact")
    assert msg.contacts == []


def test_top_via_view_follows_a_rewritten_via() -> None:
    msg = parse_message(
        b"OPTIONS sip:example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK0\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    assert msg.top_via.branch == "z9hG4bK1"
    msg.set("Via", "SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK9")
    assert (msg.top_via.transport, msg.top_via.branch) == ("TCP", "z9hG4bK9")


def test_sdp_copy_is_deep() -> None:
    from clickphone.sip.sdp import Connection, SessionDescription

    original = SessionDescription.parse(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
    before = original.serialize()
    copied = original.copy()
    assert copied.serialize() == before and copied is not original
    copied.connection = Connection.for_ip("198.51.100.7")
    audio = copied.media[0]
    audio.port = 5000
    audio.keep_formats([0])
    audio.direction = "sendonly"
    audio.add_attr("ptime", "20")
    copied.media.append(original.media[0].copy())
    assert original.serialize() == before
    assert (
        b"198.51.100.7" in copied.serialize()
        and b"m=audio 5000 RTP/AVP 0\r\n" in copied.serialize()
    )
