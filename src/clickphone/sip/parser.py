"""Bytes to SIP messages, sans I/O (RFC 3261 §7, §18.3, §25; RFC 5626 §4.4.1 keep-alives).

``parse_message`` parses one datagram; ``StreamParser`` frames a TCP/TLS byte stream by
Content-Length. Both raise or report only ``SipPeerError`` (with the status a UAS answers a
broken request with); any other exception is a bug. ``check_request`` holds the semantic checks
a UAS, registrar or proxy applies to a request that parsed (416, 400, 483 ...).

What the parser enforces: the start line (exactly three SP-separated elements, SIP/2.0 else
505, status 100-699), header names are tokens, folding is undone, the header section is valid
UTF-8 with no bare CR or LF, Content-Length (single, numeric, not beyond the data; datagram
extra bytes truncated), and the headers every message needs: Via (each hop well formed),
exactly one To, From, Call-ID and CSeq, CSeq method equal to the request method, at most one
Max-Forwards (0-255); To/From/Contact/Route/Record-Route are well-formed name-addrs and any
sip/sips/tel URI in them or in the Request-URI is syntactically valid. A Request-URI of another
scheme parses (check_request answers 416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import (
    SIP_VERSION,
    TOKEN_RE,
    NameAddr,
    SipMessage,
    SipRequest,
    SipResponse,
    Via,
    _split_outside_quotes,
    canonical_name,
    split_list,
)
from clickphone.sip.uri import SUPPORTED_SCHEMES, SipUri, uri_scheme

MAX_MESSAGE_SIZE = 65535

_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
_STATUS_RE = re.compile(r"[1-6][0-9][0-9]")
_SINGLE_HEADERS = ("To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Length")
_REQUIRED_HEADERS = ("Via", "To", "From", "Call-ID", "CSeq")
_NAME_ADDR_LISTS = ("Contact", "Route", "Record-Route")
_DATE_RE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)


@dataclass(frozen=True)
class KeepAlive:
    """A double-CRLF keep-alive ping seen on a stream: answer it with one CRLF (RFC 5626
    §4.4.1). A single CRLF (a pong, or padding before a start line) is consumed silently."""


SipMessageOrError = SipRequest | SipResponse | SipPeerError | KeepAlive


def parse_message(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> SipRequest | SipResponse:
    """Parse one datagram into a request or response; raise SipPeerError otherwise.

    Leading CRLFs are skipped; a datagram that ends after its last header line without the
    empty line is accepted with an empty body.
    Without Content-Length the body is the rest of the datagram; with it, extra octets are
    discarded (RFC 3261 §18.3) and missing ones are an error.
    """
    if len(data) > max_size:
        raise SipPeerError(f"message of {len(data)} bytes exceeds {max_size}", 513)
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        if start == len(data):
            raise SipPeerError("empty message")
        if not data.endswith(b"\r\n"):
            raise SipPeerError("no empty line after the header section")
        # Tolerated on datagrams: the datagram ends right after the last header line.
        data += b"\r\n"
        end = len(data) - 4
    start_line, headers = _parse_head(data[start:end])
    length = _content_length(headers)
    available = data[end + 4 :]
    if length is None:
        body = available
    elif length > len(available):
        raise SipPeerError(f"body has {len(available)} bytes, Content-Length says {length}")
    else:
        body = available[:length]
    return _build(start_line, headers, body)


class StreamParser:
    """Frames SIP messages on a reliable stream (RFC 3261 §18.3: Content-Length required).

    ``feed`` returns, in order, parsed messages, ``KeepAlive`` pings and ``SipPeerError``s.
    An error with ``fatal=True`` means the stream cannot be resynchronised (no usable
    Content-Length, header section larger than ``max_size``): close the connection; the parser
    then ignores further input. Non-fatal errors consumed exactly the broken message.
    """

    def __init__(self, *, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self.closed = False
        self._buf = bytearray()
        self._skip = 0

    def feed(self, data: bytes) -> list[SipMessageOrError]:
        out: list[SipMessageOrError] = []
        if self.closed:
            return out
        self._buf += data
        while self._buf or self._skip:
            if self._skip:
                n = min(self._skip, len(self._buf))
                del self._buf[:n]
                self._skip -= n
                if self._skip:
                    break
                continue
            if self._buf.startswith(b"\r\n"):
                if self._buf.startswith(b"\r\n\r\n"):
                    del self._buf[:4]
                    out.append(KeepAlive())
                    continue
                if b"\r\n\r\n".startswith(bytes(self._buf)):
                    break  # maybe the first half of a ping: wait for more
                del self._buf[:2]
                continue
            end = self._buf.find(b"\r\n\r\n")
            head_len = end + 4
            if (end < 0 and len(self._buf) > self.max_size) or head_len > self.max_size:
                out.append(self._fatal(SipPeerError("header section too large", 513)))
                break
            if end < 0:
                break
            try:
                length = _stream_content_length(bytes(self._buf[:end]))
            except SipPeerError as exc:
                out.append(self._fatal(exc))
                break
            total = head_len + length
            if total > self.max_size:
                raw = bytes(self._buf[:head_len])
                del self._buf[:head_len]
                self._skip = length
                out.append(SipPeerError(f"message of {total} bytes too large", 513, raw=raw))
                continue
            if len(self._buf) < total:
                break
            raw = bytes(self._buf[:total])
            del self._buf[:total]
            try:
                start_line, headers = _parse_head(raw[:end])
                out.append(_build(start_line, headers, raw[head_len:]))
            except SipPeerError as exc:
                exc.raw = raw
                out.append(exc)
        return out

    def _fatal(self, exc: SipPeerError) -> SipPeerError:
        exc.fatal = True
        exc.raw = bytes(self._buf[: self.max_size])
        self.closed = True
        self._buf.clear()
        return exc


def check_request(req: SipRequest, *, forwarding: bool = False) -> tuple[int, str] | None:
    """The status and reason a UAS/registrar (``forwarding=False``) or a proxy about to forward
    (``forwarding=True``) must answer a parsed request with, or None when it may proceed.

    Covers: Request-URI scheme (416), headers in a SIP Request-URI (400), Max-Forwards 0 when
    forwarding (483), a Date that is not RFC 1123 GMT (400), Expires out of range (400) and, for
    a REGISTER handled locally, a non-SIP To (the address of record) or a malformed Contact
    set (400). Require/Proxy-Require (420), Content-Type (415) and Accept (406) are the
    caller's decisions because they depend on what the element supports.
    """
    try:
        return _check_request(req, forwarding)
    except SipPeerError as exc:
        return exc.status_hint, "Bad Request" if exc.status_hint == 400 else str(exc)


def _check_request(req: SipRequest, forwarding: bool) -> tuple[int, str] | None:
    scheme = uri_scheme(req.uri)
    if scheme not in SUPPORTED_SCHEMES:
        return 416, "Unsupported URI Scheme"
    if (
        scheme in ("sip", "sips")
        and ("?" in req.uri or req.uri not in _VALID_URIS)  # else it parsed, headerless
        and SipUri.parse(req.uri).headers
    ):
        return 400, "Headers Not Allowed In Request-URI"
    max_forwards = req.get("Max-Forwards")
    if forwarding and max_forwards is not None and max_forwards.strip().strip("0") == "":
        return 483, "Too Many Hops"
    date = req.get("Date")
    if date is not None and not _DATE_RE.fullmatch(date):
        return 400, "Bad Date Header"
    expires = req.get("Expires")
    if expires is not None and not _valid_delta_seconds(expires):
        return 400, "Bad Expires Header"
    if req.method == "REGISTER" and not forwarding:
        if uri_scheme(req.to.uri) not in ("sip", "sips"):
            return 400, "Address Of Record Must Be A SIP URI"
        values = req.get_all("Contact")
        if "*" in (v.strip() for v in values) and (
            len(values) != 1 or expires is None or expires.strip().strip("0") != ""
        ):
            return 400, "Invalid Wildcard Contact"
        for contact in req.contacts:
            value = contact.params.get("expires")
            if value is not None and not _valid_delta_seconds(value):
                return 400, "Bad Contact Expires"
    return None


def _valid_delta_seconds(text: str) -> bool:
    text = text.strip()
    return text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 10 and (int(text) < 2**32)


# -- internals -----------------------------------------------------------------------------


def _parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Decode and unfold the header section (start line included, final CRLFCRLF excluded)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipPeerError("header section is not valid UTF-8") from exc
    lines = text.split("\r\n")
    headers: list[tuple[str, str]] = []
    crlf = len(lines) - 1
    if text.count("\r") != crlf or text.count("\n") != crlf:
        raise SipPeerError("bare CR or LF in the header section")
    names = _HEADER_NAMES
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not headers:
                raise SipPeerError("continuation line before the first header")
            name, value = headers[-1]
            headers[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        cname = names.get(name)
        if cname is None or not colon:
            stripped = name.rstrip(" \t")
            if not colon or not TOKEN_RE.fullmatch(stripped):
                raise SipPeerError(f"malformed header line {line[:60]!r}")
            cname = canonical_name(stripped)
            if len(names) < 4096:  # bounded: names come from the network
                names[name] = cname
        headers.append((cname, value.strip(" \t")))
    return lines[0], headers


# Header names as written before the colon (trailing LWS included) that were found to be
# tokens -> their canonical form.
_HEADER_NAMES: dict[str, str] = {}


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    values = [v for n, v in headers if n == "Content-Length"]
    if not values:
        return None
    if len(values) > 1:
        raise SipPeerError("more than one Content-Length")
    return _parse_length(values[0])


def _parse_length(text: str) -> int:
    text = text.strip(" \t")
    if not text.isascii() or not text.isdigit() or len(text.lstrip("0")) > 10:
        raise SipPeerError(f"bad Content-Length {text[:20]!r}")
    return int(text)


def _stream_content_length(head: bytes) -> int:
    """Content-Length found with a byte-level scan, so that framing survives other errors."""
    found: list[bytes] = []
    current: bytes | None = None
    for line in [*head.split(b"\r\n")[1:], b""]:
        if line[:1] in (b" ", b"\t") and current is not None:
            current += b" " + line.strip()
            continue
        if current is not None:
            found.append(current)
            current = None
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            current = value.strip()
    if not found:
        raise SipPeerError("Content-Length is required on a stream transport")
    if len(found) > 1:
        raise SipPeerError("more than one Content-Length")
    return _parse_length(found[0].decode("latin-1"))


def _build(
    start_line: str, headers: list[tuple[str, str]], body: bytes
) -> SipRequest | SipResponse:
    message: SipRequest | SipResponse
    parts = start_line.split(" ", 2)
    if _VERSION_RE.fullmatch(parts[0]):
        message = _response(parts, headers, body)
    else:
        message = _request(start_line, headers, body)
    _check_headers(message)
    return message


def _response(parts: list[str], headers: list[tuple[str, str]], body: bytes) -> SipResponse:
    if parts[0].upper() != SIP_VERSION:
        raise SipPeerError(f"unsupported version {parts[0]!r}", 505)
    if len(parts) < 2 or not _STATUS_RE.fullmatch(parts[1]):
        raise SipPeerError(f"malformed Status-Line {' '.join(parts)[:60]!r}")
    reason = parts[2] if len(parts) == 3 else ""
    if _REASON_BAD_RE.search(reason):
        raise SipPeerError("control character in Reason-Phrase")
    return SipResponse(int(parts[1]), reason, headers, body, canonical=True)


_REASON_BAD_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CALL_ID_BAD_RE = re.compile(r"[\x00-\x20]")


def _request(start_line: str, headers: list[tuple[str, str]], body: bytes) -> SipRequest:
    parts = start_line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipPeerError(f"malformed Request-Line {start_line[:80]!r}")
    method, uri, version = parts
    if not _VERSION_RE.fullmatch(version):
        raise SipPeerError(f"malformed SIP-Version {version[:20]!r}")
    if version.upper() != SIP_VERSION:
        raise SipPeerError(f"unsupported version {version!r}", 505)
    if not TOKEN_RE.fullmatch(method):
        raise SipPeerError(f"malformed method {method[:40]!r}")
    scheme = uri_scheme(uri)
    if scheme is None or not uri.isascii() or _BAD_RURI_CHAR_RE.search(uri):
        raise SipPeerError(f"malformed Request-URI {uri[:80]!r}")
    if scheme in SUPPORTED_SCHEMES:
        _check_uri(uri)
    return SipRequest(method, uri, headers, body, SIP_VERSION, canonical=True)


_VALID_URIS: set[str] = set()
_BAD_RURI_CHAR_RE = re.compile(r'[<>"\x00-\x20]')


def _check_uri(uri: str) -> None:
    """Validate a sip/sips/tel URI syntactically; URIs of other schemes pass untouched.

    URIs already found valid are remembered (bounded): phones repeat the same From, To and
    Contact in every message.
    """
    if uri in _VALID_URIS:
        return
    if uri_scheme(uri) in SUPPORTED_SCHEMES:
        try:
            SipUri.parse(uri)
        except SipPeerError as exc:
            exc.status_hint = 400
            raise
    if len(_VALID_URIS) >= 50_000:
        _VALID_URIS.clear()
    _VALID_URIS.add(uri)


def _check_headers(msg: SipMessage) -> None:
    headers = msg.headers
    names = [n for n, _ in headers]
    for name in _REQUIRED_HEADERS:
        if name not in names:
            raise SipPeerError(f"missing {name} header")
    for name in _SINGLE_HEADERS:
        if names.count(name) > 1:
            raise SipPeerError(f"more than one {name} header")
    top_via: Via | None = None
    lists: dict[str, list[str]] = {}
    for name, value in headers:
        if name == "Via":
            for item in _split_outside_quotes(value, ","):
                if not item.strip():
                    raise SipPeerError("empty Via element")
                via = Via.parse(item)
                if top_via is None:
                    top_via = via
                    if "<" not in value:
                        # what ``top_via`` would parse again: remember it
                        msg._views["Via"] = (value, via)
        elif name in _NAME_ADDR_LISTS:
            lists.setdefault(name, []).append(value)
    call_id = msg.call_id
    if not call_id or not call_id.isascii() or _CALL_ID_BAD_RE.search(call_id):
        raise SipPeerError(f"malformed Call-ID {call_id[:60]!r}")
    _, cseq_method = msg.cseq
    if isinstance(msg, SipRequest) and cseq_method != msg.method:
        raise SipPeerError(f"CSeq method {cseq_method!r} does not match {msg.method!r}")
    for addr in (msg.from_, msg.to):
        _check_uri(addr.uri)
    if "Contact" in lists:
        for contact in msg.contacts:
            _check_uri(contact.uri)
    for name in ("Route", "Record-Route"):
        for value in lists.get(name, ()):
            for item in split_list(value):
                _check_uri(NameAddr.parse(item).uri)
    max_forwards = msg.get("Max-Forwards")
    if max_forwards is not None:
        mf = max_forwards.strip()
        if not mf.isascii() or not mf.isdigit() or len(mf) > 10 or int(mf) > 255:
            raise SipPeerError(f"bad Max-Forwards {mf[:20]!r}")
