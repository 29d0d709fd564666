"""SIP/SIPS/tel URIs: parsing, serialisation and RFC 3261 §19.1.4 comparison."""

from __future__ import annotations

import pytest

from clickphone.sip.errors import SipPeerError
from clickphone.sip.uri import SipUri


def test_components() -> None:
    uri = SipUri.parse("sips:alice:secret@[2001:db8::1]:5061;transport=TCP;lr?subject=hi&x=y")
    assert uri.scheme == "sips"
    assert (uri.user, uri.password) == ("alice", "secret")
    assert (uri.host, uri.port) == ("[2001:db8::1]", 5061)
    assert uri.params == {"transport": "TCP", "lr": None}
    assert uri.transport == "tcp"
    assert uri.lr
    assert uri.headers == [("subject", "hi"), ("x", "y")]


def test_host_only_and_escapes() -> None:
    uri = SipUri.parse("sip:example.com")
    assert (uri.user, uri.host, uri.port, uri.transport) == (None, "example.com", None, None)
    esc = SipUri.parse("sip:sips%3Auser%40example.com@example.net")
    assert esc.user == "sips%3Auser%40example.com"
    assert esc.host == "example.net"
    semi = SipUri.parse("sip:user;par=u%40example.net@example.com")
    assert semi.user == "user;par=u%40example.net"
    assert semi.host == "example.com"


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sip:alice:secretword@atlanta.com;transport=tcp",
        "sips:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:+1-212-555-1212:1234@gateway.com;user=phone",
        "sips:1212@gateway.com",
        "sip:alice@192.0.2.4",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:alice;day=tuesday@atlanta.com",
        "sip:[2001:db8::10]:5070",
        "tel:+1-201-555-0123;phone-context=example.com",
    ],
)
def test_rfc3261_examples_round_trip(text: str) -> None:
    uri = SipUri.parse(text)
    assert str(uri) == text
    assert SipUri.parse(str(uri)) == uri


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        ),
        ("sip:[2001:db8::1]", "sip:[2001:DB8:0:0::1]"),
        ("tel:+1-201-555-0123", "tel:+12015550123"),
    ],
)
def test_equivalent(a: str, b: str) -> None:
    ua, ub = SipUri.parse(a), SipUri.parse(b)
    assert ua == ub
    assert hash(ua) == hash(ub)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
        ("sip:alice@atlanta.com;maddr=1.2.3.4", "sip:alice@atlanta.com"),
        ("sip:a%3bb@host", "sip:a;b@host"),
    ],
)
def test_not_equivalent(a: str, b: str) -> None:
    assert SipUri.parse(a) != SipUri.parse(b)


def test_scheme_is_case_insensitive_but_user_is_not() -> None:
    assert SipUri.parse("SIP:alice@HOST") == SipUri.parse("sip:alice@host")
    assert SipUri.parse("sip:Alice@host") != SipUri.parse("sip:alice@host")


def test_aor() -> None:
    assert SipUri.parse("sip:%61lice@AtLanta.com:5060;transport=tcp").aor == "sip:alice@atlanta.com"
    assert SipUri.parse("tel:+1-201-555-0123").aor == "tel:+12015550123"


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@example.com",
        "sip:alice@",
        "sip:alice@exa mple.com",
        "sip:alice@[2001:db8::1",
        "sip:2001:db8::10",
        "sip:alice@[2001:db8:::192.0.2.1]",
        "sip:alice@host:99999",
        "sip:alice@host:",
        "sip:alice@host;",
        "sip:alice@host;a=",
        "sip:alice@host?novalue",
        "sip:al<ice@host",
        "sip:alice%zz@host",
        "tel:",
        "nocolon",
        "1sip:host",
    ],
)
def test_malformed_is_400(text: str) -> None:
    with pytest.raises(SipPeerError) as info:
        SipUri.parse(text)
    assert info.value.status_hint == 400


@pytest.mark.parametrize("text", ["http://example.com", "mailto:a@b", "urn:service:sos"])
def test_other_schemes_are_416(text: str) -> None:
    with pytest.raises(SipPeerError) as info:
        SipUri.parse(text)
    assert info.value.status_hint == 416


def test_not_equal_to_other_types() -> None:
    assert SipUri.parse("sip:a@b") != "sip:a@b"
