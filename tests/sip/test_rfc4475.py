"""RFC 4475 torture messages and RFC 5118 IPv6 torture messages, byte-exact fixtures."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import StreamParser, check_request, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rfc4475"

# name -> (RFC section, what the RFC requires). Valid ones parse and check_request passes
# them (for a UAS; see FORWARDING for a proxy's view).
VALID = {
    "wsinv": "3.1.1.1 short tortuous INVITE",
    "intmeth": "3.1.1.2 wide range of valid characters",
    "esc01": "3.1.1.3 valid use of % escaping",
    "escnull": "3.1.1.4 escaped nulls in URIs",
    "esc02": "3.1.1.5 use of % when it is not an escape",
    "lwsdisp": "3.1.1.6 no LWS between display name and <",
    "longreq": "3.1.1.7 long values in header fields",
    "dblreq": "3.1.1.8 extra trailing octets in a UDP datagram",
    "semiuri": "3.1.1.9 semicolon-separated parameters in URI user part",
    "transports": "3.1.1.10 varied and unknown transport types",
    "mpart01": "3.1.1.11 multipart MIME message",
    "unreason": "3.1.1.12 unusual reason phrase",
    "noreason": "3.1.1.13 empty reason phrase",
    "badbranch": "3.2.1 missing transaction identifier (parser must not break)",
    "bext01": "3.3.5 Proxy-Require and Require (420 is the caller's decision)",
    "invut": "3.3.6 unknown Content-Type (415 is the caller's decision)",
    "regaut01": "3.3.7 unknown authorization scheme (401 is the caller's decision)",
    "bcast": "3.3.10 200 OK with broadcast Via",
    "cparam01": "3.3.12 REGISTER with a contact header parameter",
    "cparam02": "3.3.13 REGISTER with a URL parameter",
    "regescrt": "3.3.14 REGISTER with a URL escaped header",
    "sdp01": "3.3.15 unacceptable Accept offering (406 is the caller's decision)",
    "inv2543": "3.4.1 INVITE with RFC 2543 syntax",
}

# Messages that parse but that check_request answers: name -> (status, forwarding flag).
CHECKED = {
    "escruri": (400, False, "3.1.2.11 escaped headers in SIP Request-URI"),
    "baddate": (400, False, "3.1.2.12 invalid time zone in Date header field"),
    "unkscm": (416, False, "3.3.2 Request-URI with unknown scheme"),
    "novelsc": (416, False, "3.3.3 Request-URI with known but atypical scheme"),
    "unksm2": (400, False, "3.3.4 unknown URI schemes in header fields: To is not a SIP AOR"),
    "zeromf": (483, True, "3.3.11 Max-Forwards of zero, when forwarding"),
}

# Messages parse_message rejects: name -> (status_hint, RFC section).
REJECTED = {
    "badinv01": (400, "3.1.2.1 extraneous header field separators"),
    "clerr": (400, "3.1.2.2 Content-Length larger than message"),
    "ncl": (400, "3.1.2.3 negative Content-Length"),
    "scalar02": (400, "3.1.2.4 request scalar fields with overlarge values"),
    "scalarlg": (400, "3.1.2.5 response scalar fields with overlarge values (dropped)"),
    "quotbal": (400, "3.1.2.6 unterminated quoted string in display name"),
    "ltgtruri": (400, "3.1.2.7 <> enclosing Request-URI"),
    "lwsruri": (400, "3.1.2.8 malformed SIP Request-URI (embedded LWS)"),
    "lwsstart": (400, "3.1.2.9 multiple SP separating Request-Line elements"),
    "trws": (400, "3.1.2.10 SP characters at end of Request-Line"),
    "regbadct": (400, "3.1.2.13 failure to enclose name-addr URI in <>"),
    "badaspec": (400, "3.1.2.14 spaces within addr-spec"),
    "baddn": (400, "3.1.2.15 non-token characters in display name"),
    "badvers": (505, "3.1.2.16 unknown protocol version"),
    "mismatch01": (400, "3.1.2.17 start line and CSeq method mismatch"),
    "mismatch02": (400, "3.1.2.18 unknown method with CSeq method mismatch (400 or 501)"),
    "bigcode": (400, "3.1.2.19 overlarge response code (dropped)"),
    "insuf": (400, "3.3.1 missing required header fields"),
    "multi01": (400, "3.3.8 multiple values in single value required fields"),
    "mcl01": (400, "3.3.9 multiple Content-Length values"),
}

RFC5118_VALID = [
    "ipv6-good",
    "port-ambiguous",
    "port-unambiguous",
    "via-received-param-no-delim",
    "via-received-param-with-delim",
    "ipv6-in-sdp",
    "mult-ip-in-header",
    "mult-ip-in-sdp",
    "ipv4-mapped-ipv6",
    "ipv6-correct-abnf-2-colons",
]
RFC5118_REJECTED = ["ipv6-bad", "ipv6-bug-abnf-3-colons"]


def load(name: str) -> bytes:
    return (FIXTURES / f"{name}.dat").read_bytes()


def load_5118(name: str) -> bytes:
    """RFC 5118's archive uses LF: convert to CRLF, end the header section, fix
    Content-Length to the converted body."""
    data = (FIXTURES / "rfc5118" / name).read_bytes().replace(b"\n", b"\r\n")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head = head.rstrip(b"\r\n")
    head = re.sub(rb"Content-Length: *\d+", b"Content-Length: %d" % len(body), head)
    return head + b"\r\n\r\n" + body


def test_fixtures_are_byte_exact() -> None:
    sums = (FIXTURES / "SHA256SUMS").read_text().splitlines()
    listed = set()
    for line in sums:
        digest, name = line.split(None, 1)
        listed.add(name)
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name
    on_disk = {p.name for p in FIXTURES.glob("*.dat")}
    on_disk |= {f"rfc5118/{p.name}" for p in (FIXTURES / "rfc5118").iterdir()}
    assert listed == on_disk


def test_every_fixture_has_an_expected_outcome() -> None:
    names = {p.stem for p in FIXTURES.glob("*.dat")}
    assert names == set(VALID) | set(CHECKED) | set(REJECTED)
    assert {p.name for p in (FIXTURES / "rfc5118").iterdir()} == set(RFC5118_VALID) | set(
        RFC5118_REJECTED
    )


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_message_parses(name: str) -> None:
    msg = parse_message(load(name))
    if isinstance(msg, SipRequest):
        assert check_request(msg) is None
        assert msg.cseq[1] == msg.method
    assert msg.call_id
    assert msg.top_via.host


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_parses_but_check_request_answers(name: str) -> None:
    status, forwarding, _ = CHECKED[name]
    msg = parse_message(load(name))
    assert isinstance(msg, SipRequest)
    result = check_request(msg, forwarding=forwarding)
    assert result is not None and result[0] == status


def test_zeromf_is_fine_for_the_uas() -> None:
    msg = parse_message(load("zeromf"))
    assert isinstance(msg, SipRequest)
    assert check_request(msg, forwarding=False) is None


def test_unksm2_is_forwardable_by_a_proxy() -> None:
    msg = parse_message(load("unksm2"))
    assert isinstance(msg, SipRequest)
    assert check_request(msg, forwarding=True) is None
    assert msg.to.uri == "isbn:2983792873"


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_invalid_message_is_rejected(name: str) -> None:
    status, _ = REJECTED[name]
    with pytest.raises(SipPeerError) as info:
        parse_message(load(name))
    assert info.value.status_hint == status


@pytest.mark.parametrize("name", sorted(VALID) + sorted(CHECKED))
def test_round_trip(name: str) -> None:
    first = parse_message(load(name))
    second = parse_message(first.to_bytes())
    assert_same(first, second)


def assert_same(a: SipRequest | SipResponse, b: SipRequest | SipResponse) -> None:
    assert type(a) is type(b)
    assert a.start_line() == b.start_line()
    assert [h for h in a.headers if h[0] != "Content-Length"] == [
        h for h in b.headers if h[0] != "Content-Length"
    ]
    assert a.body == b.body
    assert b.get("Content-Length") == str(len(b.body))


@pytest.mark.parametrize("name", sorted(VALID) + sorted(CHECKED))
def test_stream_parser_frames_every_message_fed_byte_by_byte(name: str) -> None:
    wire = parse_message(load(name)).to_bytes()
    parser = StreamParser()
    out = []
    for i in range(len(wire)):
        out += parser.feed(wire[i : i + 1])
    assert len(out) == 1
    item = out[0]
    assert isinstance(item, SipRequest | SipResponse)
    assert_same(parse_message(wire), item)


def test_specific_fields() -> None:
    wsinv = parse_message(load("wsinv"))
    assert isinstance(wsinv, SipRequest)
    assert wsinv.cseq == (9, "INVITE")
    assert wsinv.get("Max-Forwards") == "0068"
    assert [v.transport for v in wsinv.vias] == ["UDP", "TCP", "UDP"]
    assert wsinv.top_via.branch == "390skdjuw"
    assert wsinv.vias[2].params["branch"] == "z9hG4bK30239"
    assert wsinv.from_.display_name == 'J Rosenberg \\"'
    assert wsinv.from_.tag == "98asjd8"
    assert wsinv.to.tag == "1918181833n"
    assert wsinv.get("Subject") == ""
    assert wsinv.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert wsinv.contacts[0].display_name == 'Quoted string ""'
    assert wsinv.contacts[0].params["q"] == "0.33"
    assert len(wsinv.body) == 150

    dblreq = parse_message(load("dblreq"))
    assert isinstance(dblreq, SipRequest) and dblreq.method == "REGISTER"
    assert dblreq.body == b""

    esc02 = parse_message(load("esc02"))
    assert isinstance(esc02, SipRequest) and esc02.method == "RE%47IST%45R"
    assert len(esc02.contacts) == 2  # "C%6Fntact" is another header

    intmeth = parse_message(load("intmeth"))
    assert intmeth.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"

    noreason = parse_message(load("noreason"))
    assert isinstance(noreason, SipResponse) and noreason.reason == ""
    unreason = parse_message(load("unreason"))
    assert isinstance(unreason, SipResponse) and unreason.reason.startswith("= 2**3 * 5**2 но")


@pytest.mark.parametrize("name", RFC5118_VALID)
def test_rfc5118_valid(name: str) -> None:
    msg = parse_message(load_5118(name))
    if isinstance(msg, SipRequest):
        assert check_request(msg) is None
    assert_same(msg, parse_message(msg.to_bytes()))


@pytest.mark.parametrize("name", RFC5118_REJECTED)
def test_rfc5118_rejected(name: str) -> None:
    with pytest.raises(SipPeerError) as info:
        parse_message(load_5118(name))
    assert info.value.status_hint == 400


def test_rfc5118_addresses() -> None:
    ambiguous = parse_message(load_5118("port-ambiguous"))
    unambiguous = parse_message(load_5118("port-unambiguous"))
    assert isinstance(ambiguous, SipRequest) and isinstance(unambiguous, SipRequest)
    assert ambiguous.uri == "sip:[2001:db8::10:5070]"
    assert unambiguous.uri == "sip:[2001:db8::10]:5070"
    multi = parse_message(load_5118("mult-ip-in-header"))
    assert [(v.host, v.port) for v in multi.vias] == [
        ("[2001:db8::9:1]", 6050),
        ("192.0.2.1", None),
        ("[2001:db8::9:255]", None),
    ]
    no_delim = parse_message(load_5118("via-received-param-no-delim"))
    assert no_delim.top_via.params["received"] == "2001:db8::9:255"
