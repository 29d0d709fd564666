"""RTP fixed header parse/serialize (RFC 3550 §5.1) and RTCP detection (RFC 5761 §4).

Sans-I/O: bytes in, dataclass out, and back. A malformed packet raises
:class:`RtpParseError` naming what is wrong; the relay counts such packets and drops them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

RTP_VERSION = 2
RTP_HEADER_SIZE = 12

_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")


class RtpParseError(ValueError):
    """The datagram is not a well-formed RTP (or RTCP) packet."""


def is_rtcp(data: bytes) -> bool:
    """True when ``data`` looks like RTCP multiplexed on the RTP port (RFC 5761 §4).

    RTCP packet types 200-204 (SR, RR, SDES, BYE, APP) occupy the second byte; with the
    marker bit set they would be RTP payload types 72-76, which RFC 5761 reserves.
    """
    return len(data) >= 2 and (data[0] >> 6) == RTP_VERSION and 200 <= data[1] <= 204


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. ``payload`` excludes padding; ``padding`` counts the padding bytes."""

    payload_type: int = 0
    sequence: int = 0
    timestamp: int = 0
    ssrc: int = 0
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension_profile: int | None = None
    extension: bytes = b""
    payload: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        n = len(data)
        if n < RTP_HEADER_SIZE:
            raise RtpParseError(f"RTP packet too short: {n} bytes < {RTP_HEADER_SIZE}")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data, 0)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise RtpParseError(f"RTP version {version} != 2")
        if is_rtcp(data):
            raise RtpParseError(f"packet type {b1} is RTCP, not RTP")
        has_padding = bool(b0 & 0x20)
        has_ext = bool(b0 & 0x10)
        cc = b0 & 0x0F
        pos = RTP_HEADER_SIZE + 4 * cc
        if pos > n:
            raise RtpParseError(f"RTP CSRC count {cc} overruns the {n}-byte packet")
        csrc = list(struct.unpack_from(f"!{cc}I", data, RTP_HEADER_SIZE)) if cc else []
        ext_profile: int | None = None
        ext = b""
        if has_ext:
            if pos + 4 > n:
                raise RtpParseError("RTP header extension header truncated")
            ext_profile, ext_words = _EXT_HEADER.unpack_from(data, pos)
            pos += 4
            if pos + 4 * ext_words > n:
                raise RtpParseError(f"RTP header extension of {ext_words} words overruns packet")
            ext = bytes(data[pos : pos + 4 * ext_words])
            pos += 4 * ext_words
        end = n
        pad = 0
        if has_padding:
            pad = data[-1]
            if pad == 0 or pos + pad > n:
                raise RtpParseError(f"RTP padding length {pad} invalid for packet")
            end = n - pad
        return cls(
            payload_type=b1 & 0x7F,
            sequence=seq,
            timestamp=ts,
            ssrc=ssrc,
            marker=bool(b1 & 0x80),
            csrc=csrc,
            extension_profile=ext_profile,
            extension=ext,
            payload=bytes(data[pos:end]),
            padding=pad,
        )

    def serialize(self) -> bytes:
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type {self.payload_type} out of range 0-127")
        if len(self.csrc) > 15:
            raise ValueError("at most 15 CSRC identifiers")
        if len(self.extension) % 4:
            raise ValueError("header extension length must be a multiple of 4 bytes")
        if not 0 <= self.padding <= 255:
            raise ValueError("padding must be 0-255 bytes")
        has_ext = self.extension_profile is not None
        b0 = (
            (RTP_VERSION << 6)
            | (0x20 if self.padding else 0)
            | (0x10 if has_ext else 0)
            | len(self.csrc)
        )
        b1 = (0x80 if self.marker else 0) | self.payload_type
        parts = [
            _HEADER.pack(b0, b1, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension_profile is not None:
            parts.append(_EXT_HEADER.pack(self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def peek_header(data: bytes) -> tuple[int, int, int, int] | None:
    """Fast path for the relay: ``(payload_type, sequence, timestamp, ssrc)`` or None.

    Checks only the fixed header; returns None for RTCP and for anything that is not RTP v2.
    """
    if len(data) < RTP_HEADER_SIZE or (data[0] >> 6) != RTP_VERSION or 200 <= data[1] <= 204:
        return None
    _b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data, 0)
    return b1 & 0x7F, seq, ts, ssrc


def payload_offset(data: bytes) -> int:
    """Offset of the payload in an RTP packet already known to be well-formed enough."""
    pos = RTP_HEADER_SIZE + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        if pos + 4 > len(data):
            raise RtpParseError("RTP header extension header truncated")
        (_profile, words) = _EXT_HEADER.unpack_from(data, pos)
        pos += 4 + 4 * words
    if pos > len(data):
        raise RtpParseError("RTP header overruns packet")
    return pos
