import pytest

from clickphone.sip.sdp import (
    DEFAULT_CODECS,
    OPUS,
    Codec,
    Connection,
    SdpNegotiationError,
    SdpParseError,
    SessionDescription,
    common_codecs,
    negotiate,
    rewrite_connection,
)


def crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


PJSUA = crlf("""
v=0
o=- 3916402779 3916402779 IN IP4 192.168.1.20
s=pjmedia
b=AS:117
t=0 0
a=X-nat:0
m=audio 4000 RTP/AVP 96 9 8 0 101 120
c=IN IP4 192.168.1.20
b=TIAS:96000
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:9 G722/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtpmap:120 telephone-event/48000
a=fmtp:120 0-16
a=sendrecv
a=rtcp:4001 IN IP4 192.168.1.20
a=ssrc:1195213549 cname:7bd4a5a95d2d3a4b
""")

BARESIP = crlf("""
v=0
o=- 1406283946 1921597612 IN IP4 10.0.0.5
s=-
c=IN IP4 10.0.0.5
t=0 0
a=tool:baresip 3.10.1
m=audio 10054 RTP/AVP 0 8 101
b=AS:64
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp-mux
a=ptime:20
a=sendrecv
a=label:1
a=ice-ufrag:Hm9x
a=ice-pwd:CSdqxCH0tbT2A5DfpVUkTy
a=candidate:1 1 UDP 2113932031 10.0.0.5 10054 typ host
a=end-of-candidates
m=video 10056 RTP/AVP 96
a=rtpmap:96 H264/90000
a=fmtp:96 packetization-mode=1
""")

IPV6 = crlf("""
v=0
o=alice 2890844526 2890844527 IN IP6 2001:db8::1
s=Hold test
c=IN IP6 2001:db8::1
t=0 0
m=audio 49170 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=sendonly
""")


@pytest.mark.parametrize("wire", [PJSUA, BARESIP, IPV6], ids=["pjsua", "baresip", "ipv6"])
def test_round_trip(wire: bytes) -> None:
    sdp = SessionDescription.parse(wire)
    assert sdp.serialize() == wire
    # LF-only input parses the same and serializes with CRLF
    assert SessionDescription.parse(wire.replace(b"\r\n", b"\n")).serialize() == wire


def test_pjsua_fields() -> None:
    sdp = SessionDescription.parse(PJSUA)
    assert sdp.origin.session_version == 3916402779
    assert sdp.connection is None
    audio = sdp.audio()
    assert audio is not None
    assert audio.port == 4000 and audio.proto == "RTP/AVP"
    assert audio.connection == Connection("192.168.1.20")
    codecs = audio.codecs()
    assert [c.payload_type for c in codecs] == [96, 9, 8, 0, 101, 120]
    assert codecs[0] == Codec(96, "opus", 48000, 2, "useinbandfec=1")
    assert audio.telephone_event_pts() == {101, 120}
    assert audio.rtcp == (4001, Connection("192.168.1.20"))
    assert audio.direction == "sendrecv"
    assert sdp.get_attr("X-nat") == "0"
    assert audio.get_attr("ssrc") == "1195213549 cname:7bd4a5a95d2d3a4b"
    assert not sdp.is_hold()


def test_baresip_and_ipv6_fields() -> None:
    b = SessionDescription.parse(BARESIP)
    assert b.connection == Connection("10.0.0.5")
    assert [m.kind for m in b.media] == ["audio", "video"]
    audio = b.audio()
    assert audio is not None and audio.has_attr("rtcp-mux") and audio.rtcp is None
    assert [c.encoding for c in audio.codecs()] == ["PCMU", "PCMA", "telephone-event"]
    v6 = SessionDescription.parse(IPV6)
    assert v6.connection == Connection("2001:db8::1", "IP6")
    assert v6.audio() is not None
    assert [c.encoding for c in v6.audio().codecs()] == ["PCMU", "telephone-event"]  # type: ignore[union-attr]
    assert v6.is_hold()


def test_hold_by_direction_and_null_address() -> None:
    sdp = SessionDescription.parse(BARESIP)
    audio = sdp.audio()
    assert audio is not None
    audio.direction = "sendonly"
    assert sdp.is_hold()
    assert audio.get_attrs("sendonly") == [""] and not audio.has_attr("sendrecv")
    audio.direction = "sendrecv"
    assert not sdp.is_hold()
    sdp.connection = Connection("0.0.0.0")
    assert sdp.is_hold()
    with pytest.raises(ValueError):
        audio.direction = "sideways"
    # session-level direction applies when the media has none
    s2 = SessionDescription.parse(
        IPV6.replace(b"a=sendonly\r\n", b"").replace(b"t=0 0\r\n", b"t=0 0\r\na=inactive\r\n")
    )
    a2 = s2.audio()
    assert a2 is not None and s2.media_direction(a2) == "inactive" and s2.is_hold()


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", "start with v="),
        (b"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n", "version"),
        (b"v=0\r\ns=-\r\n", "no o= line"),
        (b"v=0\r\no=- 1 IN IP4\r\ns=-\r\n", "6 fields"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nbogus\r\n", "not <type>=<value>"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", "port"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n", "no c= line"),
        (b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", "3 fields"),
        (b"v=0\r\no=- 1 1 IN IP4 \xff\r\n", "UTF-8"),
    ],
)
def test_malformed(wire: bytes, message: str) -> None:
    with pytest.raises(SdpParseError, match=message) as info:
        SessionDescription.parse(wire)
    assert info.value.status_hint == 400


def test_common_codecs_and_negotiate() -> None:
    pj, bs = SessionDescription.parse(PJSUA), SessionDescription.parse(BARESIP)
    assert [c.encoding for c in common_codecs(pj, bs)] == ["PCMA", "PCMU", "telephone-event"]
    both_opus = any(c.encoding.lower() == "opus" for c in common_codecs(pj, pj))
    assert both_opus
    n = negotiate(pj)
    audio = n.audio()
    assert audio is not None
    assert audio.formats == ["8", "0", "101"]
    assert [c.payload_type for c in audio.codecs()] == [8, 0, 101]
    assert audio.get_attrs("fmtp") == ["101 0-16"]
    assert "rtpmap:120 telephone-event/48000" not in n.serialize().decode()
    assert pj.audio().formats[0] == "96"  # type: ignore[union-attr]  # original untouched
    with_opus = negotiate(pj, (*DEFAULT_CODECS, OPUS)).audio()
    assert with_opus is not None and with_opus.formats == ["96", "8", "0", "101"]
    nb = negotiate(bs)
    assert [m.port for m in nb.media] == [10054, 0]  # video disabled


def test_negotiate_rejects_with_488() -> None:
    g729 = SessionDescription.parse(IPV6.replace(b"RTP/AVP 0 101", b"RTP/AVP 18 101"))
    with pytest.raises(SdpNegotiationError) as info:
        negotiate(g729)
    assert info.value.status_hint == 488


def test_rewrite_connection_ipv4() -> None:
    bs = SessionDescription.parse(BARESIP)
    r = rewrite_connection(bs, "203.0.113.7", 20000)
    text = r.serialize().decode()
    assert r.connection == Connection("203.0.113.7")
    assert r.origin.address == "203.0.113.7" and r.origin.session_version == 1921597612
    assert r.audio() is not None and r.audio().port == 20000  # type: ignore[union-attr]
    for gone in ("candidate", "ice-ufrag", "ice-pwd", "end-of-candidates", "rtcp-mux"):
        assert f"a={gone}" not in text
    assert "a=label:1" in text and "a=tool:baresip 3.10.1" in text
    assert [m.port for m in r.media] == [20000, 0]
    # rewriting an already rewritten SDP is stable
    assert rewrite_connection(r, "203.0.113.7", 20000).serialize() == r.serialize()


def test_rewrite_connection_media_level_and_rtcp() -> None:
    pj = SessionDescription.parse(PJSUA)
    r = rewrite_connection(pj, "2001:db8::9", 30010)
    audio = r.audio()
    assert audio is not None
    assert audio.connection is None
    assert r.connection == Connection("2001:db8::9", "IP6")
    assert audio.rtcp == (30011, Connection("2001:db8::9", "IP6"))
    assert r.media_connection(audio) == Connection("2001:db8::9", "IP6")
    reparsed = SessionDescription.parse(r.serialize())
    assert reparsed.serialize() == r.serialize()


def test_new_description() -> None:
    sdp = SessionDescription.new(
        "127.0.0.1",
        20000,
        [Codec(0, "PCMU", 8000), Codec(101, "telephone-event", 8000, fmtp="0-16")],
    )
    wire = sdp.serialize()
    again = SessionDescription.parse(wire)
    assert again.serialize() == wire
    audio = again.audio()
    assert audio is not None and audio.formats == ["0", "101"]
    assert audio.get_attr("ptime") == "20" and audio.direction == "sendrecv"
