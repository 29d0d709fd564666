"""SDP (RFC 8866, formerly 4566) parse/serialize and the offer/answer helpers a B2BUA needs.

Sans-I/O and lossless: a description is kept as its ordered ``(type, value)`` lines, session
level and per media section, so unknown lines and attributes survive a round trip
(``SessionDescription.parse(data).serialize() == data`` for CRLF input). Structured views —
:attr:`SessionDescription.origin`, :attr:`Media.connection`, :meth:`Media.codecs`,
:attr:`Media.direction`, :attr:`Media.rtcp` — read and write those lines.

Offer/answer (RFC 3264):

* :func:`common_codecs` — the codecs two descriptions share (name, clock rate, channels).
* :func:`negotiate` — filter an offer down to what we relay: PCMU (0), PCMA (8),
  telephone-event/8000 and, when the caller says both sides do it, opus/48000/2.
* :func:`rewrite_connection` — anchor media at the relay: ``c=`` and the audio ``m=`` port are
  replaced, ICE candidates/credentials dropped and ``a=rtcp`` pointed at port+1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from clickphone.sip.errors import SipPeerError

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

#: RFC 3551 static payload types we know by number (no rtpmap needed).
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    13: ("CN", 8000, 1),
    18: ("G729", 8000, 1),
}

#: What the built-in relay handles without transcoding.
DEFAULT_CODECS = ("PCMU/8000", "PCMA/8000", "telephone-event/8000")
OPUS = "opus/48000/2"

#: Attributes that would let media bypass the relay (RFC 8839 ICE) or that the relay does
#: not implement (rtcp-mux: it relays RTCP on port+1).
BYPASS_ATTRIBUTES = frozenset(
    {
        "candidate",
        "remote-candidates",
        "ice-ufrag",
        "ice-pwd",
        "ice-options",
        "ice-lite",
        "ice-mismatch",
        "ice-pacing",
        "end-of-candidates",
        "rtcp-mux",
        "rtcp-mux-only",
    }
)


class SdpParseError(SipPeerError):
    """The SDP body is malformed (answered 400; an unusable offer is 488, see negotiate)."""


class SdpNegotiationError(SipPeerError):
    """No acceptable media in an offer: answer 488 Not Acceptable Here."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_hint=488)


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <address>`` (address may carry /ttl or /count, kept as is)."""

    address: str
    addr_type: str = "IP4"
    net_type: str = "IN"

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise SdpParseError(f"c= needs 3 fields: {value!r}")
        net_type, addr_type, address = parts
        return cls(address=address, addr_type=addr_type, net_type=net_type)

    @classmethod
    def for_ip(cls, ip: str) -> Connection:
        version = ipaddress.ip_address(ip).version
        return cls(address=ip, addr_type="IP6" if version == 6 else "IP4")

    @property
    def host(self) -> str:
        """The address without a multicast /ttl or /count suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_null(self) -> bool:
        """RFC 2543-style hold: c=IN IP4 0.0.0.0 (or the IPv6 unspecified address)."""
        return self.host in ("0.0.0.0", "::")

    def __str__(self) -> str:
        return f"{self.net_type} {self.addr_type} {self.address}"


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>``."""

    username: str
    session_id: str
    session_version: int
    net_type: str
    addr_type: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6:
            raise SdpParseError(f"o= needs 6 fields: {value!r}")
        try:
            version = int(parts[2])
        except ValueError:
            raise SdpParseError(f"o= session version is not a number: {parts[2]!r}") from None
        return cls(parts[0], parts[1], version, parts[3], parts[4], parts[5])

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.net_type} {self.addr_type} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Codec:
    """One payload format of a media section."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """Identity for matching across descriptions: (lower-case name, rate, channels)."""
        return (self.encoding.lower(), self.clock_rate, self.channels)

    @property
    def rtpmap(self) -> str:
        tail = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


def codec_key(spec: str) -> tuple[str, int, int]:
    """``"PCMU/8000"`` or ``"opus/48000/2"`` → ``("pcmu", 8000, 1)`` / ``("opus", 48000, 2)``."""
    parts = spec.split("/")
    if not 2 <= len(parts) <= 3:
        raise ValueError(f"codec spec must be name/rate[/channels]: {spec!r}")
    return (parts[0].lower(), int(parts[1]), int(parts[2]) if len(parts) == 3 else 1)


def _split_attr(value: str) -> tuple[str, str | None]:
    name, sep, rest = value.partition(":")
    return (name, rest) if sep else (name, None)


class _Lines:
    """Shared line-list helpers for session and media sections."""

    lines: list[tuple[str, str]]

    def values(self, kind: str) -> list[str]:
        return [v for k, v in self.lines if k == kind]

    def first(self, kind: str) -> str | None:
        for k, v in self.lines:
            if k == kind:
                return v
        return None

    def attributes(self) -> list[tuple[str, str | None]]:
        """All ``a=`` lines as (name, value-or-None), in order."""
        return [_split_attr(v) for k, v in self.lines if k == "a"]

    def get_attr(self, name: str) -> str | None:
        """Value of the first ``a=name:value`` (``""`` for a flag ``a=name``), or None."""
        for attr, value in self.attributes():
            if attr == name:
                return "" if value is None else value
        return None

    def get_attrs(self, name: str) -> list[str]:
        return ["" if v is None else v for a, v in self.attributes() if a == name]

    def has_attr(self, name: str) -> bool:
        return self.get_attr(name) is not None

    def add_attr(self, name: str, value: str | None = None) -> None:
        self.lines.append(("a", name if value is None else f"{name}:{value}"))

    def remove_attrs(self, names: Iterable[str]) -> None:
        drop = set(names)
        self.lines = [(k, v) for k, v in self.lines if k != "a" or _split_attr(v)[0] not in drop]

    def _set_line(self, kind: str, value: str | None, *, before: tuple[str, ...] = ()) -> None:
        """Replace the first line of ``kind`` (drop the others); insert if absent."""
        out: list[tuple[str, str]] = []
        placed = False
        for k, v in self.lines:
            if k == kind:
                if not placed and value is not None:
                    out.append((k, value))
                placed = True
                continue
            out.append((k, v))
        if not placed and value is not None:
            idx = next((i for i, (k, _) in enumerate(out) if k in before), len(out))
            out.insert(idx, (kind, value))
        self.lines = out

    @property
    def connection(self) -> Connection | None:
        value = self.first("c")
        return Connection.parse(value) if value is not None else None

    @connection.setter
    def connection(self, conn: Connection | None) -> None:
        self._set_line("c", None if conn is None else str(conn), before=("b", "t", "k", "a"))

    @property
    def own_direction(self) -> str | None:
        """The direction attribute written in this section, if any."""
        for name, _ in self.attributes():
            if name in DIRECTIONS:
                return name
        return None

    def _set_direction(self, direction: str) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}: {direction!r}")
        out: list[tuple[str, str]] = []
        placed = False
        for k, v in self.lines:
            if k == "a" and v in DIRECTIONS:
                if not placed:
                    out.append(("a", direction))
                    placed = True
                continue
            out.append((k, v))
        if not placed:
            out.append(("a", direction))
        self.lines = out


@dataclass
class Media(_Lines):
    """One ``m=`` section: its m= fields and the lines that follow it, in order."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse_m(cls, value: str) -> Media:
        parts = value.split()
        if len(parts) < 3:
            raise SdpParseError(f"m= needs media, port and proto: {value!r}")
        kind, port_spec, proto = parts[:3]
        port_s, _, count_s = port_spec.partition("/")
        try:
            port = int(port_s)
            count = int(count_s) if count_s else None
        except ValueError:
            raise SdpParseError(f"m= port is not a number: {port_spec!r}") from None
        if not 0 <= port <= 65535:
            raise SdpParseError(f"m= port out of range: {port}")
        return cls(kind=kind, port=port, proto=proto, formats=parts[3:], port_count=count)

    @property
    def m_line(self) -> str:
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        return " ".join([self.kind, port, self.proto, *self.formats])

    @property
    def direction(self) -> str:
        """This section's direction; see :meth:`SessionDescription.media_direction`."""
        return self.own_direction or "sendrecv"

    @direction.setter
    def direction(self, value: str) -> None:
        self._set_direction(value)

    def codecs(self) -> list[Codec]:
        """The formats in m= order, described by a=rtpmap/a=fmtp or the static table."""
        rtpmaps: dict[str, tuple[str, int, int]] = {}
        for value in self.get_attrs("rtpmap"):
            pt, _, desc = value.partition(" ")
            bits = desc.strip().split("/")
            try:
                rtpmaps[pt] = (
                    bits[0],
                    int(bits[1]),
                    int(bits[2]) if len(bits) > 2 and bits[2] else 1,
                )
            except (IndexError, ValueError):
                raise SdpParseError(f"bad a=rtpmap: {value!r}") from None
        fmtps: dict[str, str] = {}
        for value in self.get_attrs("fmtp"):
            pt, _, params = value.partition(" ")
            fmtps.setdefault(pt, params.strip())
        out: list[Codec] = []
        for fmt in self.formats:
            if not fmt.isdigit():
                continue  # non-RTP protocols (e.g. "webrtc-datachannel")
            number = int(fmt)
            entry = rtpmaps.get(fmt) or STATIC_PAYLOAD_TYPES.get(number)
            if entry is None:
                continue  # a dynamic type with no rtpmap: unusable, skip
            out.append(Codec(number, entry[0], entry[1], entry[2], fmtps.get(fmt)))
        return out

    def telephone_event_pts(self) -> set[int]:
        return {c.payload_type for c in self.codecs() if c.encoding.lower() == "telephone-event"}

    def keep_formats(self, payload_types: Iterable[int]) -> None:
        """Keep only these payload types, in their m= order, with their rtpmap/fmtp lines."""
        keep = {str(pt) for pt in payload_types}
        self.formats = [f for f in self.formats if f in keep]
        out: list[tuple[str, str]] = []
        for k, v in self.lines:
            if k == "a":
                name, value = _split_attr(v)
                if name in ("rtpmap", "fmtp", "rtcp-fb") and value is not None:
                    pt = value.split(" ", 1)[0]
                    if pt != "*" and pt not in keep:
                        continue
            out.append((k, v))
        self.lines = out

    @property
    def rtcp(self) -> tuple[int, Connection | None] | None:
        """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605), or None."""
        value = self.get_attr("rtcp")
        if value is None:
            return None
        parts = value.split()
        try:
            port = int(parts[0])
        except (IndexError, ValueError):
            raise SdpParseError(f"bad a=rtcp: {value!r}") from None
        conn = Connection.parse(" ".join(parts[1:])) if len(parts) > 1 else None
        return port, conn

    def serialize_lines(self) -> list[str]:
        return [f"m={self.m_line}", *(f"{k}={v}" for k, v in self.lines)]

    def copy(self) -> Media:
        return Media(
            self.kind, self.port, self.proto, list(self.formats), self.port_count, list(self.lines)
        )


@dataclass
class SessionDescription(_Lines):
    """A whole SDP body: session-level lines (v=, o=, s=, ... in order) and media sections."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SdpParseError(f"SDP is not UTF-8: {exc}") from None
        else:
            text = data
        sdp = cls()
        current: _Lines = sdp
        for n, raw in enumerate(text.split("\n"), 1):
            line = raw.removesuffix("\r")
            if not line:
                continue
            if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
                raise SdpParseError(f"SDP line {n} is not <type>=<value>: {line[:40]!r}")
            kind, value = line[0], line[2:]
            if n == 1 and kind != "v":
                raise SdpParseError("SDP must start with v=")
            if kind == "m":
                media = Media.parse_m(value)
                sdp.media.append(media)
                current = media
            else:
                current.lines.append((kind, value))
        if sdp.first("v") != "0":
            raise SdpParseError(f"unsupported SDP version v={sdp.first('v')}")
        if sdp.first("o") is None:
            raise SdpParseError("SDP has no o= line")
        _ = sdp.origin  # validate eagerly: structured views raise on bad lines
        session_conn = sdp.connection
        for m in sdp.media:
            if m.connection is None and session_conn is None and m.port != 0:
                raise SdpParseError(f"m={m.kind} has no c= line at either level")
        return sdp

    def serialize(self) -> bytes:
        out = [f"{k}={v}" for k, v in self.lines]
        for m in self.media:
            out.extend(m.serialize_lines())
        return ("\r\n".join(out) + "\r\n").encode()

    def copy(self) -> SessionDescription:
        """A deep copy (lines are tuples of strings, so copying the lists is enough)."""
        return SessionDescription(list(self.lines), [m.copy() for m in self.media])

    @property
    def origin(self) -> Origin:
        value = self.first("o")
        if value is None:
            raise SdpParseError("SDP has no o= line")
        return Origin.parse(value)

    @origin.setter
    def origin(self, origin: Origin) -> None:
        self._set_line("o", str(origin))

    @property
    def session_name(self) -> str:
        return self.first("s") or ""

    def media_connection(self, media: Media) -> Connection | None:
        """The effective c= of a media section (its own, else the session's)."""
        return media.connection or self.connection

    def media_direction(self, media: Media) -> str:
        """Effective direction: the media's own attribute, else the session's, else sendrecv."""
        return media.own_direction or self.own_direction or "sendrecv"

    def is_hold(self, media: Media | None = None) -> bool:
        """True if the (first audio) stream is put on hold: sendonly/inactive or c=0.0.0.0."""
        m = media or self.audio()
        if m is None:
            return False
        conn = self.media_connection(m)
        return self.media_direction(m) in ("sendonly", "inactive") or (
            conn is not None and conn.is_null
        )

    def audio(self) -> Media | None:
        """The first audio section with a non-zero port."""
        return next((m for m in self.media if m.kind == "audio" and m.port != 0), None)

    @classmethod
    def new(
        cls,
        ip: str,
        port: int,
        codecs: Iterable[Codec],
        *,
        session_id: str = "0",
        version: int = 0,
        username: str = "clickphone",
        direction: str = "sendrecv",
        ptime: int | None = 20,
    ) -> SessionDescription:
        """Build a one-audio-stream description from scratch (for our own UAC/UAS legs)."""
        conn = Connection.for_ip(ip)
        sdp = cls(
            lines=[
                ("v", "0"),
                ("o", str(Origin(username, session_id, version, "IN", conn.addr_type, ip))),
                ("s", "ClickPhone"),
                ("c", str(conn)),
                ("t", "0 0"),
            ]
        )
        codecs = list(codecs)
        m = Media("audio", port, "RTP/AVP", [str(c.payload_type) for c in codecs])
        for c in codecs:
            m.add_attr("rtpmap", c.rtpmap)
            if c.fmtp:
                m.add_attr("fmtp", f"{c.payload_type} {c.fmtp}")
        if ptime is not None:
            m.add_attr("ptime", str(ptime))
        m.direction = direction
        sdp.media.append(m)
        return sdp


def common_codecs(a: SessionDescription, b: SessionDescription) -> list[Codec]:
    """Codecs of ``a``'s first audio stream that ``b``'s also has, in ``a``'s order.

    Matching is by (name, clock rate, channels), not payload-type number; the returned codecs
    carry ``a``'s numbers.
    """
    ma, mb = a.audio(), b.audio()
    if ma is None or mb is None:
        return []
    keys_b = {c.key for c in mb.codecs()}
    return [c for c in ma.codecs() if c.key in keys_b]


def negotiate(
    offer: SessionDescription, supported_codecs: Iterable[str] = DEFAULT_CODECS
) -> SessionDescription:
    """A copy of ``offer`` whose audio stream keeps only ``supported_codecs``.

    ``supported_codecs`` are ``name/rate[/channels]`` specs; pass ``(*DEFAULT_CODECS, OPUS)``
    only when the other leg offered opus too (see :func:`common_codecs`). telephone-event is
    kept only at 8000 Hz. Other media sections are disabled (port 0): the relay anchors audio
    only. Raises :class:`SdpNegotiationError` (488) when no audio codec is left.
    """
    keys = {codec_key(s) for s in supported_codecs}
    result = offer.copy()
    audio = result.audio()
    if audio is None:
        raise SdpNegotiationError("offer has no audio stream")
    keep = [c for c in audio.codecs() if c.key in keys]
    if not any(c.encoding.lower() != "telephone-event" for c in keep):
        raise SdpNegotiationError("no common audio codec")
    audio.keep_formats(c.payload_type for c in keep)
    for m in result.media:
        if m is not audio:
            m.port = 0
    return result


def rewrite_connection(
    sdp: SessionDescription, ip: str, port: int, *, keep_origin: bool = False
) -> SessionDescription:
    """A copy of ``sdp`` anchored at ``ip:port`` (the relay).

    The session ``c=`` is set to ``ip`` (IPv4 or IPv6 detected), media-level ``c=`` lines are
    removed, the first audio ``m=`` gets ``port``, ICE attributes and rtcp-mux are dropped so
    nothing bypasses the relay, and ``a=rtcp`` is rewritten to ``port + 1``. Other media
    sections are disabled (port 0). ``o=`` gets ``ip`` unless ``keep_origin``.
    """
    result = sdp.copy()
    conn = Connection.for_ip(ip)
    result.connection = conn
    if not keep_origin:
        o = result.origin
        result.origin = Origin(
            o.username, o.session_id, o.session_version, o.net_type, conn.addr_type, ip
        )
    result.remove_attrs(BYPASS_ATTRIBUTES)
    audio = result.audio()
    for m in result.media:
        m.connection = None
        if m is not audio:
            m.port = 0
            continue
        m.port = port
        m.port_count = None
        m.remove_attrs(BYPASS_ATTRIBUTES)
        if m.rtcp is not None:
            old = [(k, v) for k, v in m.lines]
            m.lines = [
                (k, f"rtcp:{port + 1} {conn}" if k == "a" and v.startswith("rtcp:") else v)
                for k, v in old
            ]
    return result
