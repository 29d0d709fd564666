import struct

import pytest

from clickphone.rtp.packet import RtpPacket, RtpParseError, is_rtcp, payload_offset, peek_header

# A captured-style PCMU packet: V=2, PT=0, seq=0x1234, ts=0xDEADBEEF, SSRC=0x01020304, 160 bytes
PCMU = bytes.fromhex("80001234deadbeef01020304") + b"\xff" * 160


def test_parse_pcmu() -> None:
    p = RtpPacket.parse(PCMU)
    assert (p.payload_type, p.sequence, p.timestamp, p.ssrc) == (0, 0x1234, 0xDEADBEEF, 0x01020304)
    assert not p.marker and p.csrc == [] and p.extension_profile is None
    assert p.payload == b"\xff" * 160
    assert p.serialize() == PCMU
    assert peek_header(PCMU) == (0, 0x1234, 0xDEADBEEF, 0x01020304)
    assert payload_offset(PCMU) == 12


def test_round_trip_all_fields() -> None:
    p = RtpPacket(
        payload_type=101,
        sequence=65535,
        timestamp=2**32 - 1,
        ssrc=0xCAFEBABE,
        marker=True,
        csrc=[1, 2, 3],
        extension_profile=0xBEDE,
        extension=b"\x10\xaa\x00\x00",
        payload=b"\x01\x8a\x03\x20",
        padding=4,
    )
    wire = p.serialize()
    assert wire[0] == 0x80 | 0x20 | 0x10 | 3
    assert wire[1] == 0x80 | 101
    assert wire[-1] == 4
    q = RtpPacket.parse(wire)
    assert q == p
    assert q.serialize() == wire
    assert wire[payload_offset(wire) :][:4] == p.payload


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00\x00", "too short"),
        (bytes.fromhex("40001234deadbeef01020304"), "version 1"),
        (bytes.fromhex("8f001234deadbeef01020304"), "CSRC count 15"),
        (bytes.fromhex("90001234deadbeef01020304be"), "extension header truncated"),
        (bytes.fromhex("90001234deadbeef01020304bede0002aabbccdd"), "overruns"),
        (bytes.fromhex("a0001234deadbeef0102030400"), "padding length 0"),
        (bytes.fromhex("a0001234deadbeef0102030409"), "padding length 9"),
        (bytes.fromhex("80c80006deadbeef01020304"), "RTCP"),
    ],
)
def test_malformed(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError, match=message):
        RtpPacket.parse(data)


def test_rtcp_detection() -> None:
    sr = struct.pack("!BBH", 0x80, 200, 6) + bytes(24)
    assert is_rtcp(sr)
    for pt in (200, 201, 202, 203, 204):
        assert is_rtcp(bytes([0x81, pt, 0, 1]))
    assert not is_rtcp(PCMU)
    assert not is_rtcp(bytes([0x80, 205, 0, 0]))
    assert not is_rtcp(b"\x80")
    assert peek_header(sr) is None


def test_serialize_validates() -> None:
    with pytest.raises(ValueError, match="payload type"):
        RtpPacket(payload_type=128).serialize()
    with pytest.raises(ValueError, match="multiple of 4"):
        RtpPacket(extension_profile=1, extension=b"abc").serialize()
