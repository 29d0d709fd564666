"""The message model: header access, structured views, make_response, serialisation."""

from __future__ import annotations

import pytest

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import (
    NameAddr,
    SipRequest,
    SipResponse,
    Via,
    canonical_name,
    make_response,
    parse_params,
    split_list,
)
from clickphone.sip.parser import parse_message


def invite() -> SipRequest:
    return SipRequest(
        "INVITE",
        "sip:bob@example.com",
        [
            ("v", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1, SIP/2.0/TCP [::1]:5070;branch=z9hG4bK2"),
            ("Max-Forwards", "70"),
            ("f", '"A. \\"Al\\" Ice" <sip:alice@example.com>;tag=a1'),
            ("t", "<sip:bob@example.com>"),
            ("i", "call-1@host"),
            ("CSeq", "314159 INVITE"),
            ("m", "<sip:alice@192.0.2.1>;expires=60, sip:alice@192.0.2.2;q=0.5"),
            ("Record-Route", "<sip:p1;lr>"),
        ],
        b"v=0\r\n",
    )


def test_canonical_names() -> None:
    assert canonical_name("v") == "Via"
    assert canonical_name("CALL-ID") == "Call-ID"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("x-custom-header") == "X-Custom-Header"
    assert canonical_name("cseq") == "CSeq"


def test_structured_views() -> None:
    msg = invite()
    assert msg.call_id == "call-1@host"
    assert msg.cseq == (314159, "INVITE")
    assert [(v.transport, v.host, v.port, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.1", None, "z9hG4bK1"),
        ("TCP", "[::1]", 5070, "z9hG4bK2"),
    ]
    assert msg.top_via.sent_by == "192.0.2.1"
    assert msg.from_.display_name == 'A. "Al" Ice'
    assert msg.from_.tag == "a1"
    assert msg.to.tag is None
    assert [(c.uri, c.params) for c in msg.contacts] == [
        ("sip:alice@192.0.2.1", {"expires": "60"}),
        ("sip:alice@192.0.2.2", {"q": "0.5"}),
    ]


def test_header_operations() -> None:
    msg = invite()
    msg.add("Via", "SIP/2.0/UDP proxy;branch=z9hG4bK0", first=True)
    assert msg.top_via.host == "proxy"
    msg.set("max-forwards", "69")
    assert msg.get_all("Max-Forwards") == ["69"]
    msg.add("Supported", "timer")
    msg.add("Supported", "100rel, path")
    assert msg.get_all("Supported") == ["timer", "100rel", "path"]
    msg.remove("Supported")
    assert "Supported" not in msg
    assert msg.get("Subject", "none") == "none"


def test_to_bytes_round_trip_and_content_length() -> None:
    msg = invite()
    msg.add("Content-Length", "999")
    wire = msg.to_bytes()
    assert wire.startswith(b"INVITE sip:bob@example.com SIP/2.0\r\nVia: ")
    assert b"Content-Length: 5\r\n\r\nv=0\r\n" in wire
    parsed = parse_message(wire)
    assert parsed.from_ == msg.from_
    assert parsed.body == b"v=0\r\n"


def test_make_response() -> None:
    req = invite()
    resp = make_response(req, 180, to_tag="b2")
    assert isinstance(resp, SipResponse)
    assert (resp.status, resp.reason) == (180, "Ringing")
    assert resp.to.tag == "b2"
    assert resp.get_all("Via") == req.get_all("Via")
    assert resp.cseq == req.cseq and resp.call_id == req.call_id
    assert resp.get("Record-Route") is None
    assert make_response(req, 100, to_tag="b2").to.tag is None
    custom = make_response(req, 486, "Busy", extra_headers=[("Retry-After", "30")])
    assert custom.reason == "Busy" and custom.get("Retry-After") == "30"
    assert isinstance(parse_message(custom.to_bytes()), SipResponse)


@pytest.mark.parametrize(
    ("value", "transport", "host", "port", "params"),
    [
        (
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
            "UDP",
            "192.0.2.1",
            5060,
            {"branch": "z9hG4bK1"},
        ),
        (
            "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw",
            "UDP",
            "192.0.2.2",
            None,
            {"branch": "390skdjuw"},
        ),
        (
            "SIP / 2.0 / tcp  host.example.com : 5070 ; rport ; branch = x",
            "TCP",
            "host.example.com",
            5070,
            {"rport": None, "branch": "x"},
        ),
        (
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255",
            "UDP",
            "[2001:db8::9:1]",
            None,
            {"received": "2001:db8::9:255"},
        ),
        (
            'SIP/2.0/WSS abc.invalid;branch=z9hG4bK;x="q;s"',
            "WSS",
            "abc.invalid",
            None,
            {"branch": "z9hG4bK", "x": '"q;s"'},
        ),
    ],
)
def test_via_parse(
    value: str, transport: str, host: str, port: int | None, params: dict[str, str | None]
) -> None:
    via = Via.parse(value)
    assert (via.transport, via.host, via.port, via.params) == (transport, host, port, params)
    assert Via.parse(str(via)) == via


@pytest.mark.parametrize(
    "value",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 192.0.2.1",
        "SIP/3.0/UDP host",
        "HTTP/2.0/UDP host",
        "SIP/2.0/UDP host;;branch=x",
        "SIP/2.0/UDP host;branch=",
        "SIP/2.0/UDP host:0x50",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP ho st",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP bad_host!",
    ],
)
def test_via_rejects(value: str) -> None:
    with pytest.raises(SipPeerError):
        Via.parse(value)


@pytest.mark.parametrize(
    ("value", "display", "uri", "params"),
    [
        ("<sip:a@b>", None, "sip:a@b", {}),
        ("sip:a@b;tag=1", None, "sip:a@b", {"tag": "1"}),
        ('"" <sip:a@b>', "", "sip:a@b", {}),
        ("Alice Smith <sip:a@b> ; tag = x", "Alice Smith", "sip:a@b", {"tag": "x"}),
        (
            "caller<sip:caller@example.com>;tag=323",
            "caller",
            "sip:caller@example.com",
            {"tag": "323"},
        ),
        ("Иван <sip:ivan@b>", "Иван", "sip:ivan@b", {}),
        ("<sip:a@b;lr>;x", None, "sip:a@b;lr", {"x": None}),
        ("<urn:service:sos>", None, "urn:service:sos", {}),
    ],
)
def test_name_addr_parse(
    value: str, display: str | None, uri: str, params: dict[str, str | None]
) -> None:
    addr = NameAddr.parse(value)
    assert (addr.display_name, addr.uri, addr.params) == (display, uri, params)
    assert NameAddr.parse(str(addr)) == addr


@pytest.mark.parametrize(
    "value",
    [
        "",
        '"unterminated <sip:a@b>',
        "Bell, Alexander <sip:a@b>",
        "< sip:a@b >",
        "<sip:a@b",
        "sip:a@b?Route=x",
        "<sip:a@b> junk",
        "<sip:a@b>;;",
        "<not a uri>",
        "<>",
    ],
)
def test_name_addr_rejects(value: str) -> None:
    with pytest.raises(SipPeerError):
        NameAddr.parse(value)


def test_split_list_and_params() -> None:
    assert split_list('"a, b" <sip:x>, <sip:y,z>, w') == ['"a, b" <sip:x>', "<sip:y,z>", "w"]
    assert parse_params(';A=1;b;c="x;y"') == {"a": "1", "b": None, "c": '"x;y"'}
    assert parse_params("junk;a=1") == {"junk": None, "a": "1"}  # lenient by default
    with pytest.raises(SipPeerError):
        parse_params("junk;a=1", strict=True)


def test_cseq_errors() -> None:
    msg = SipRequest("OPTIONS", "sip:a@b", [("CSeq", "1")])
    with pytest.raises(SipPeerError):
        _ = msg.cseq
    msg.set("CSeq", "99999999999 OPTIONS")
    with pytest.raises(SipPeerError):
        _ = msg.cseq
    msg.remove("CSeq")
    with pytest.raises(SipPeerError):
        _ = msg.cseq
    with pytest.raises(SipPeerError):
        _ = msg.call_id
