"""parse_message, StreamParser and check_request on hand-written messages."""

from __future__ import annotations

import pytest

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.parser import KeepAlive, StreamParser, check_request, parse_message

HEADERS = (
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@example.com>\r\n"
    'From: "Alice" <sip:alice@example.com>;tag=1928301774\r\n'
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
)


def request(
    method: str = "OPTIONS",
    uri: str = "sip:bob@example.com",
    extra: str = "",
    body: bytes = b"",
    *,
    length: int | None = None,
    cseq: str | None = None,
) -> bytes:
    head = f"{method} {uri} SIP/2.0\r\n{HEADERS}CSeq: {cseq or '1 ' + method}\r\n{extra}"
    n = len(body) if length is None else length
    return f"{head}Content-Length: {n}\r\n\r\n".encode() + body


def rejects(data: bytes, status: int = 400) -> SipPeerError:
    with pytest.raises(SipPeerError) as info:
        parse_message(data)
    assert info.value.status_hint == status
    return info.value


def test_minimal_request() -> None:
    msg = parse_message(request(body=b"hello"))
    assert isinstance(msg, SipRequest)
    assert (msg.method, msg.uri, msg.version) == ("OPTIONS", "sip:bob@example.com", "SIP/2.0")
    assert msg.body == b"hello"
    assert msg.cseq == (1, "OPTIONS")
    assert msg.from_.tag == "1928301774"
    assert check_request(msg) is None


def test_response_and_reason_phrase() -> None:
    data = "SIP/2.0 180 Ringing now\r\n" + HEADERS + "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    msg = parse_message(data.encode())
    assert isinstance(msg, SipResponse)
    assert (msg.status, msg.reason) == (180, "Ringing now")


def test_folding_compact_forms_and_case_insensitive_names() -> None:
    data = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP pc33.example.com\r\n ;branch=z9hG4bKnashds8\r\n"
        b"MAX-FORWARDS: 70\r\n"
        b"t: <sip:bob@example.com>\r\n"
        b"f: <sip:alice@example.com>\r\n\t;tag=1\r\n"
        b"i: abc@host\r\n"
        b"cSeQ: 7\r\n  INVITE\r\n"
        b"Subject: one\r\n two\r\n"
        b"Route: <sip:p1.example.com;lr>\r\n"
        b"Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n"
        b"l: 0\r\n\r\n"
    )
    msg = parse_message(data)
    assert msg.top_via.branch == "z9hG4bKnashds8"
    assert msg.get("max-forwards") == "70"
    assert msg.from_.tag == "1"
    assert msg.cseq == (7, "INVITE")
    assert msg.get("Subject") == "one two"
    assert msg.get_all("Route") == [
        "<sip:p1.example.com;lr>",
        "<sip:p2.example.com;lr>",
        "<sip:p3.example.com;lr>",
    ]
    assert [name for name, _ in msg.headers][:3] == ["Via", "Max-Forwards", "To"]


def test_utf8_header_values_accepted_and_invalid_utf8_rejected() -> None:
    good = request(extra="Subject: Привет\r\n")
    assert parse_message(good).get("Subject") == "Привет"
    bad = request(extra="Subject: X\r\n").replace(b"Subject: X", b"Subject: \xff\xfe")
    rejects(bad)


def test_body_may_be_binary() -> None:
    msg = parse_message(request(body=b"\xff\x00\xfe"))
    assert msg.body == b"\xff\x00\xfe"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"\r\n\r\n", 400),
        (b"OPTIONS sip:bob@example.com SIP/2.0", 400),
        (b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: x\r\n", 400),
        (b"OPTIONS sip:bob@example.com SIP/3.0\r\n\r\n", 505),
        (b"OPTIONS sip:bob@example.com HTTP/1.1\r\n\r\n", 400),
        (b"SIP/2.0 99 Odd\r\n\r\n", 400),
        (b"SIP/2.0 700 Odd\r\n\r\n", 400),
        (b"OPT\x00IONS sip:bob@example.com SIP/2.0\r\n\r\n", 400),
    ],
)
def test_broken_start_lines(data: bytes, status: int) -> None:
    rejects(data, status)


def test_content_length_rules() -> None:
    assert parse_message(request(body=b"abcdef", length=3)).body == b"abc"  # §18.3 truncation
    rejects(request(body=b"ab", length=3))
    rejects(request(extra="Content-Length: 0\r\n"))
    rejects(request().replace(b"Content-Length: 0", b"Content-Length: 0x10"))
    no_length = request(body=b"xyz").replace(b"Content-Length: 3\r\n", b"")
    assert parse_message(no_length).body == b"xyz"


def test_size_limit_is_513() -> None:
    with pytest.raises(SipPeerError) as info:
        parse_message(request(body=b"x" * 2000), max_size=1000)
    assert info.value.status_hint == 513


@pytest.mark.parametrize("missing", ["Via", "To", "From", "Call-ID", "CSeq"])
def test_mandatory_headers(missing: str) -> None:
    data = request().decode()
    lines = [ln for ln in data.split("\r\n") if not ln.startswith(missing + ":")]
    rejects("\r\n".join(lines).encode())


def test_max_forwards_is_optional_but_bounded() -> None:
    without = request().replace(b"Max-Forwards: 70\r\n", b"")
    assert parse_message(without).get("Max-Forwards") is None
    rejects(request().replace(b"Max-Forwards: 70", b"Max-Forwards: 256"))
    rejects(request().replace(b"Max-Forwards: 70", b"Max-Forwards: -1"))


def test_cseq_checks() -> None:
    rejects(request(cseq="1 INVITE"))
    rejects(request(cseq="abc OPTIONS"))
    rejects(request(cseq="4294967296 OPTIONS"))
    assert parse_message(request(cseq="4294967295 OPTIONS")).cseq[0] == 2**32 - 1


def test_header_line_errors() -> None:
    rejects(request(extra="No colon here\r\n"))
    rejects(request(extra="Bad Name: x\r\n"))
    rejects(request().replace(b"\r\nVia", b"\r\n Via", 1))  # continuation first
    rejects(request(extra="Subject: a\rb\r\n"))
    rejects(request(extra="Subject: a\nb\r\n"))


def test_request_uri_validation() -> None:
    rejects(request(uri="sip:bob@exa mple.com".replace(" ", "%20")))  # bad host char
    rejects(request(uri="sip:[::1"))
    rejects(request(uri="<sip:bob@example.com>"))
    msg = parse_message(request(uri="urn:service:sos"))
    assert isinstance(msg, SipRequest)
    assert check_request(msg) == (416, "Unsupported URI Scheme")
    tel = parse_message(request(uri="tel:+1-201-555-0123"))
    assert isinstance(tel, SipRequest) and check_request(tel) is None


def test_leading_crlf_and_missing_final_empty_line_on_datagrams() -> None:
    assert isinstance(parse_message(b"\r\n\r\n" + request()), SipRequest)
    truncated = request().removesuffix(b"\r\n")
    assert parse_message(truncated).body == b""


def test_check_request() -> None:
    zero = parse_message(request().replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    assert isinstance(zero, SipRequest)
    assert check_request(zero) is None
    assert check_request(zero, forwarding=True) == (483, "Too Many Hops")

    dated = parse_message(request(extra="Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"))
    assert isinstance(dated, SipRequest) and check_request(dated) is None

    expires = parse_message(request(extra="Expires: 99999999999\r\n"))
    assert isinstance(expires, SipRequest) and check_request(expires) == (
        400,
        "Bad Expires Header",
    )

    star = parse_message(request("REGISTER", "sip:example.com", "Contact: *\r\nExpires: 0\r\n"))
    assert isinstance(star, SipRequest) and check_request(star) is None
    star_bad = parse_message(request("REGISTER", "sip:example.com", "Contact: *\r\n"))
    assert isinstance(star_bad, SipRequest)
    assert check_request(star_bad) == (400, "Invalid Wildcard Contact")

    # a locally built request with garbage never makes check_request raise
    odd = SipRequest("OPTIONS", "sip:[bad", [("To", "<sip:x@y>")])
    assert check_request(odd) is not None


# -- stream framing ------------------------------------------------------------------------


def test_stream_frames_several_messages_in_one_chunk() -> None:
    parser = StreamParser()
    out = parser.feed(request(body=b"one") + request("INFO", body=b"two"))
    assert [m.body for m in out if isinstance(m, SipRequest)] == [b"one", b"two"]


def test_stream_waits_for_body_and_splits_anywhere() -> None:
    wire = request(body=b"0123456789") * 2
    for cut in range(len(wire)):
        parser = StreamParser()
        out = parser.feed(wire[:cut]) + parser.feed(wire[cut:])
        assert [m.body for m in out if isinstance(m, SipRequest)] == [b"0123456789"] * 2


def test_stream_keepalive_ping_and_crlf() -> None:
    parser = StreamParser()
    assert parser.feed(b"\r\n\r\n") == [KeepAlive()]
    assert parser.feed(b"\r\n") == []  # maybe half a ping: wait
    assert parser.feed(b"\r\n") == [KeepAlive()]
    out = parser.feed(b"\r\n" + request())
    assert len(out) == 1 and isinstance(out[0], SipRequest)
    out = parser.feed(b"\r\n\r\n" + request())
    assert isinstance(out[0], KeepAlive) and isinstance(out[1], SipRequest)


def test_stream_missing_content_length_is_fatal() -> None:
    parser = StreamParser()
    wire = request().replace(b"Content-Length: 0\r\n", b"")
    (err,) = parser.feed(wire)
    assert isinstance(err, SipPeerError) and err.fatal
    assert err.raw.startswith(b"OPTIONS ")
    assert parser.closed
    assert parser.feed(request()) == []


@pytest.mark.parametrize("value", ["-1", "abc", "1, 2"])
def test_stream_bad_content_length_is_fatal(value: str) -> None:
    wire = request().replace(b"Content-Length: 0", f"Content-Length: {value}".encode())
    (err,) = StreamParser().feed(wire)
    assert isinstance(err, SipPeerError) and err.fatal


def test_stream_two_content_lengths_are_fatal() -> None:
    (err,) = StreamParser().feed(request(extra="l: 0\r\n"))
    assert isinstance(err, SipPeerError) and err.fatal


def test_stream_broken_message_with_good_framing_is_not_fatal() -> None:
    parser = StreamParser()
    broken = request(cseq="1 INVITE", body=b"abc")
    out = parser.feed(broken + request(body=b"next"))
    assert isinstance(out[0], SipPeerError) and not out[0].fatal
    assert out[0].raw == broken
    assert isinstance(out[1], SipRequest) and out[1].body == b"next"


def test_stream_oversized_body_is_skipped() -> None:
    parser = StreamParser(max_size=600)
    big = request(body=b"x" * 1000)
    out = parser.feed(big[:700]) + parser.feed(big[700:] + request(body=b"ok"))
    assert isinstance(out[0], SipPeerError) and out[0].status_hint == 513
    assert not out[0].fatal
    assert isinstance(out[1], SipRequest) and out[1].body == b"ok"


def test_stream_oversized_header_section_is_fatal() -> None:
    parser = StreamParser(max_size=300)
    (err,) = parser.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 100)
    assert isinstance(err, SipPeerError) and err.fatal and err.status_hint == 513


def test_stream_rejects_bad_utf8_without_losing_sync() -> None:
    parser = StreamParser()
    bad = request(extra="Subject: X\r\n").replace(b"Subject: X", b"Subject: \xc3")
    out = parser.feed(bad + request())
    assert isinstance(out[0], SipPeerError) and not out[0].fatal
    assert isinstance(out[1], SipRequest)
