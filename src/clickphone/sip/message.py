"""SIP message model (RFC 3261 §7): requests, responses, headers, and structured header views.

This module holds the data model and serialization only. Parsing bytes into these objects is
``clickphone.sip.parser.parse_message``. Header names are stored in their canonical long form
("Via", "Call-ID", "CSeq", "WWW-Authenticate"); compact forms are expanded on parse.
Header values are stored as received (after unfolding), in order, one entry per header line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from clickphone.sip.errors import SipPeerError
from clickphone.sip.uri import parse_host, parse_port, uri_scheme

SIP_VERSION = "SIP/2.0"

TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# gen-value = token / host / quoted-string (RFC 3261 §25.1); host covers IPv6 with or without
# brackets (RFC 5118 §4.5 shows both forms of Via received=).
_GEN_VALUE_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+")

COMPACT_FORMS: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "y": "Identity",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
}

_SPECIAL_CASE: dict[str, str] = {
    name.lower(): name
    for name in (
        "Call-ID",
        "CSeq",
        "WWW-Authenticate",
        "MIME-Version",
        "RAck",
        "RSeq",
        "SIP-ETag",
        "SIP-If-Match",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Max-Forwards",
        "Min-SE",
        "Session-Expires",
        "Record-Route",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Authentication-Info",
        "Proxy-Authentication-Info",
    )
}

# Headers whose value is a comma-separated list (RFC 3261 §7.3.1). Authenticate/Authorization
# headers contain commas but are *not* lists; Date/Call-ID etc. are single values.
LIST_HEADERS = frozenset(
    {
        "Via",
        "Route",
        "Record-Route",
        "Contact",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Allow-Events",
        "Content-Encoding",
        "In-Reply-To",
        "Path",
        "Service-Route",
    }
)

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


_CANONICAL_CACHE: dict[str, str] = {}
_BAD_URI_CHAR_RE = re.compile(r'[\s<>"]')
_SPACE_RE = re.compile(r"\s")


def canonical_name(name: str) -> str:
    """Return the canonical spelling of a header name (compact forms expanded)."""
    cached = _CANONICAL_CACHE.get(name)
    if cached is not None:
        return cached
    result = _canonical_name(name)
    if len(_CANONICAL_CACHE) < 4096:  # bounded: names come from the network
        _CANONICAL_CACHE[name] = result
    return result


def _canonical_name(name: str) -> str:
    low = name.lower()
    if len(low) == 1 and low in COMPACT_FORMS:
        return COMPACT_FORMS[low]
    special = _SPECIAL_CASE.get(low)
    if special is not None:
        return special
    return "-".join(part[:1].upper() + part[1:] for part in low.split("-"))


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, respecting quotes, <...> and escapes."""
    if "," not in value:
        # One item whatever the quoting: the commonest case (one Via, one Contact per line).
        value = value.strip()
        return [value] if value else []
    if '"' not in value and "<" not in value:
        # Nothing to protect (escapes only count inside quotes): the common, fast case.
        return [item for item in (part.strip() for part in value.split(",")) if item]
    items: list[str] = []
    buf: list[str] = []
    in_quotes = False
    in_angle = False
    escaped = False
    for ch in value:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if in_quotes:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
            buf.append(ch)
            continue
        if ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            item = "".join(buf).strip()
            if item:
                items.append(item)
            buf = []
            continue
        buf.append(ch)
    item = "".join(buf).strip()
    if item:
        items.append(item)
    return items


def parse_params(text: str, *, strict: bool = False) -> dict[str, str | None]:
    """Parse ``;a=b;c`` style parameters (leading ``;`` optional). Keys are lower-cased.

    With ``strict=True`` the text must be empty or start with ``;`` (after LWS), and every
    parameter must be ``token [= (token / host / quoted-string)]`` (RFC 3261 generic-param);
    otherwise SipPeerError(400) is raised.
    """
    params: dict[str, str | None] = {}
    parts = _split_outside_quotes(text, ";")
    if strict:
        if parts[0].strip():
            raise SipPeerError(f"unexpected text before parameters: {parts[0][:40]!r}")
        parts = parts[1:]
    for raw in parts:
        raw = raw.strip()
        if not raw:
            if strict:
                raise SipPeerError(f"empty parameter in {text[:60]!r}")
            continue
        if "=" in raw:
            key, val = raw.split("=", 1)
            key, val = key.strip(), val.strip()
            if strict and not (TOKEN_RE.fullmatch(key) and _valid_gen_value(val)):
                raise SipPeerError(f"malformed parameter {raw[:60]!r}")
            params[key.lower()] = val
        else:
            if strict and not TOKEN_RE.fullmatch(raw):
                raise SipPeerError(f"malformed parameter {raw[:60]!r}")
            params[raw.lower()] = None
    return params


def _valid_gen_value(value: str) -> bool:
    if value.startswith('"'):
        return quoted_string_end(value, 0) == len(value)
    return _GEN_VALUE_RE.fullmatch(value) is not None


def quoted_string_end(text: str, start: int) -> int:
    """Index just past the quoted-string that opens at ``text[start]``, or -1 if unterminated."""
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    return -1


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    if '"' not in text:
        return text.split(sep)  # escapes only count inside quotes
    parts: list[str] = []
    buf: list[str] = []
    in_quotes = False
    escaped = False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if ch == "\\" and in_quotes:
            escaped = True
            buf.append(ch)
            continue
        if ch == '"':
            in_quotes = not in_quotes
        if ch == sep and not in_quotes:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


_VIA_PROTOCOL_RE = re.compile(r"\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)\s+(.*)", re.S)
_TCHARS = r"A-Za-z0-9\-.!%*_+`'~"
_GEN_CHARS = _TCHARS + r":\[\]"
_PARAMS_FAST = rf"((?:;[{_TCHARS}]+(?:=[{_GEN_CHARS}]+)?)*)"
# sent-protocol "SIP/2.0/" transport SP hostname-or-IPv4 [":" port] *(";" token ["=" gen-value])
# with no LWS and no quoted strings; anything else takes the general path.
_VIA_FAST_RE = re.compile(
    rf"SIP/2\.0/([{_TCHARS}]+) ([A-Za-z0-9_][A-Za-z0-9_\-.]*)(?::([0-9]{{1,5}}))?" + _PARAMS_FAST
)
# <addr-spec> with a plain scheme, optionally after a quoted display name without escapes,
# then plain parameters: the common From/To/Contact form.
_NAME_ADDR_FAST_RE = re.compile(
    r'(?:"([^"\\\x00-\x1f\x7f]*)" ?)?<([A-Za-z][A-Za-z0-9+\-.]*:[^\s<>"]*)>' + _PARAMS_FAST
)
_COLON_LWS_RE = re.compile(r"\s*:\s*")


@dataclass
class Via:
    """One Via hop: ``SIP/2.0/UDP host:port;branch=...;rport``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> Via:
        """Parse one via-parm. LWS is allowed around the ``/`` of the protocol, around the
        ``:`` of sent-by and around ``;``/``=`` of parameters (RFC 4475 §3.1.1.1)."""
        fast = _VIA_FAST_RE.fullmatch(value)
        if fast is not None:
            # The usual compact form (no LWS, hostname or IPv4, plain parameters): the same
            # result as the general path below, without its several passes.
            transport, host, port_text, param_text = fast.groups()
            port: int | None = None
            if port_text is not None:
                port = int(port_text)
                if port > 65535:
                    raise SipPeerError(f"bad port: {port_text!r}")
            params: dict[str, str | None] = {}
            if param_text:
                for item in param_text[1:].split(";"):
                    key, eq, val = item.partition("=")
                    params[key.lower()] = val if eq else None
            return cls(transport.upper(), host, port, params)
        return cls._parse_general(value)

    @classmethod
    def _parse_general(cls, value: str) -> Via:
        match = _VIA_PROTOCOL_RE.match(value)
        if match is None:
            raise SipPeerError(f"malformed Via: {value[:60]!r}")
        name, version, transport, rest = match.groups()
        if name.upper() != "SIP" or version != "2.0":
            raise SipPeerError(f"unsupported Via protocol {name}/{version}")
        if not TOKEN_RE.fullmatch(transport):
            raise SipPeerError(f"malformed Via transport {transport[:20]!r}")
        sent_by, semi, param_text = rest.partition(";")
        sent_by = _COLON_LWS_RE.sub(":", sent_by.strip())
        if not sent_by or _SPACE_RE.search(sent_by):
            raise SipPeerError(f"malformed Via sent-by {sent_by[:60]!r}")
        host, port = split_host_port(sent_by)
        parse_host(host)
        params = parse_params(semi + param_text, strict=True)
        return cls(transport.upper(), host, port, params)

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return join_host_port(self.host, self.port)

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


def split_host_port(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` where host may be an IPv6 reference ``[::1]``."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipPeerError(f"bad IPv6 reference: {text!r}")
        host = text[: end + 1]
        rest = text[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise SipPeerError(f"bad host:port: {text!r}")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.partition(":")
        if not sep:
            if not host:
                raise SipPeerError("empty host")
            return host, None
    port = parse_port(port_text.strip())
    if not host:
        raise SipPeerError("empty host")
    return host, port


def join_host_port(host: str, port: int | None) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


@dataclass
class NameAddr:
    """A From/To/Contact/Route value: ``"Display" <uri>;params`` or ``uri;params``."""

    uri: str
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> NameAddr:
        """Parse strictly: a quoted or token display name, no LWS inside ``<...>``, no ``?``
        or ``,`` in a bare addr-spec (RFC 3261 §20.10), well-formed parameters."""
        value = value.strip()
        fast = _NAME_ADDR_FAST_RE.fullmatch(value)
        if fast is not None:
            display_text, uri, param_text = fast.groups()
            fast_params: dict[str, str | None] = {}
            if param_text:
                for item in param_text[1:].split(";"):
                    key, eq, val = item.partition("=")
                    fast_params[key.lower()] = val if eq else None
            return cls(uri, display_text, fast_params)
        return cls._parse_general(value)

    @classmethod
    def _parse_general(cls, value: str) -> NameAddr:
        value = value.strip()
        if not value:
            raise SipPeerError("empty name-addr")
        display: str | None = None
        lt = _find_unquoted(value, "<")
        if lt >= 0:
            gt = value.find(">", lt)
            if gt < 0:
                raise SipPeerError(f"unterminated <uri> in {value[:80]!r}")
            display_raw = value[:lt].strip()
            if display_raw.startswith('"'):
                if quoted_string_end(display_raw, 0) != len(display_raw):
                    raise SipPeerError(f"bad quoted display name in {value[:80]!r}")
                display = unescape_quoted(display_raw[1:-1])
            elif display_raw:
                for word in display_raw.split():
                    if word.isascii() and not TOKEN_RE.fullmatch(word):
                        raise SipPeerError(f"display name must be quoted: {display_raw[:60]!r}")
                display = display_raw
            uri = value[lt + 1 : gt]
            if uri != uri.strip():
                raise SipPeerError(f"LWS inside <uri> in {value[:80]!r}")
            params = parse_params(value[gt + 1 :], strict=True)
        else:
            # addr-spec form: parameters after ';' belong to the header, not the URI
            if value.startswith('"'):
                raise SipPeerError(f"unbalanced quotes in {value[:80]!r}")
            uri, semi, param_text = value.partition(";")
            uri = uri.strip()
            if "?" in uri or "," in uri:
                raise SipPeerError(f"URI with '?' or ',' must be in <>: {uri[:80]!r}")
            params = parse_params(semi + param_text, strict=True)
        if uri_scheme(uri) is None or _BAD_URI_CHAR_RE.search(uri):
            raise SipPeerError(f"malformed URI {uri[:80]!r}")
        return cls(uri, display, params)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _find_unquoted(text: str, target: str) -> int:
    in_quotes = False
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
            continue
        if in_quotes and ch == "\\":
            escaped = True
            continue
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == target and not in_quotes:
            return i
    return -1


def unescape_quoted(text: str) -> str:
    out: list[str] = []
    it = iter(text)
    for ch in it:
        if ch == "\\":
            out.append(next(it, ""))
        else:
            out.append(ch)
    return "".join(out)


def _parse_first_via(value: str) -> Via:
    hops = split_list(value)
    if not hops:
        raise SipPeerError("missing Via")
    return Via.parse(hops[0])


def _parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if (
        len(parts) != 2
        or not parts[0].isascii()
        or not parts[0].isdigit()
        or not TOKEN_RE.fullmatch(parts[1])
    ):
        raise SipPeerError(f"malformed CSeq: {value[:60]!r}")
    # Senders keep it below 2**31 (RFC 3261 §8.1.1.5); receivers accept any 32-bit value.
    if len(parts[0].lstrip("0")) > 10 or int(parts[0]) >= 2**32:
        raise SipPeerError(f"CSeq number out of range: {value[:60]!r}")
    return int(parts[0]), parts[1]


class SipMessage:
    """Common part of requests and responses: ordered headers and a body."""

    def __init__(
        self,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        canonical: bool = False,
    ) -> None:
        # ``canonical=True``: ``headers`` is a fresh list with canonical names (the parser's),
        # taken as is.
        self.headers: list[tuple[str, str]] = (
            headers
            if canonical and isinstance(headers, list)
            else [(canonical_name(n), v) for n, v in headers]
        )
        self.body = body
        # Parsed views keyed by the raw text they came from: always in step with ``headers``,
        # however it is edited, and each header value is parsed once.
        self._views: dict[str, tuple[Any, Any]] = {}

    def _view(self, key: str, raw: str, parse: Callable[[str], Any]) -> Any:
        hit = self._views.get(key)
        if hit is not None and hit[0] is raw:
            return hit[1]
        parsed = parse(raw)
        self._views[key] = (raw, parsed)
        return parsed

    # -- header access -------------------------------------------------------------------
    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of header ``name`` (any spelling), or ``default``."""
        cname = _CANONICAL_CACHE.get(name)
        if cname is None:
            cname = canonical_name(name)
        for n, v in self.headers:
            if n == cname:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """All values of ``name``; list headers are split on commas into separate items."""
        cname = _CANONICAL_CACHE.get(name)
        if cname is None:
            cname = canonical_name(name)
        values = [v for n, v in self.headers if n == cname]
        if cname in LIST_HEADERS:
            out: list[str] = []
            for v in values:
                out.extend(split_list(v))
            return out
        return values

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` header with one value, kept at the first one's position."""
        cname = canonical_name(name)
        for i, (n, _) in enumerate(self.headers):
            if n == cname:
                self.headers[i] = (cname, value)
                self.headers = [h for j, h in enumerate(self.headers) if j <= i or h[0] != cname]
                return
        self.headers.append((cname, value))

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        cname = canonical_name(name)
        if first:
            idx = next((i for i, (n, _) in enumerate(self.headers) if n == cname), 0)
            self.headers.insert(idx, (cname, value))
        else:
            self.headers.append((cname, value))

    def remove(self, name: str) -> None:
        cname = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if n != cname]

    def iter_headers(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    # -- structured views ----------------------------------------------------------------
    @property
    def call_id(self) -> str:
        value = self.get("Call-ID")
        if value is None:
            raise SipPeerError("missing Call-ID")
        return value.strip()

    @property
    def cseq(self) -> tuple[int, str]:
        value = self.get("CSeq")
        if value is None:
            raise SipPeerError("missing CSeq")
        result: tuple[int, str] = self._view("CSeq", value, _parse_cseq)
        return result

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.get_all("Via")]

    @property
    def top_via(self) -> Via:
        first = self.get("Via")
        if first is None:
            raise SipPeerError("missing Via")
        via: Via = self._view("Via", first, _parse_first_via)
        return via

    @property
    def from_(self) -> NameAddr:
        value = self.get("From")
        if value is None:
            raise SipPeerError("missing From")
        addr: NameAddr = self._view("From", value, NameAddr.parse)
        return addr

    @property
    def to(self) -> NameAddr:
        value = self.get("To")
        if value is None:
            raise SipPeerError("missing To")
        addr: NameAddr = self._view("To", value, NameAddr.parse)
        return addr

    @property
    def contacts(self) -> list[NameAddr]:
        """Every Contact but ``*``, parsed (once per message while the Contact headers stay
        the same objects)."""
        raws = [v for n, v in self.headers if n == "Contact"]
        hit = self._views.get("Contact*")
        if hit is not None:
            seen: list[str] = hit[0]
            if len(seen) == len(raws) and all(a is b for a, b in zip(seen, raws, strict=True)):
                return list(hit[1])
        parsed = [
            NameAddr.parse(item) for raw in raws for item in split_list(raw) if item.strip() != "*"
        ]
        self._views["Contact*"] = (raws, parsed)
        return list(parsed)

    @property
    def content_type(self) -> str | None:
        value = self.get("Content-Type")
        return value.split(";", 1)[0].strip().lower() if value else None

    # -- serialization -------------------------------------------------------------------
    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialize with a correct Content-Length (always written, RFC 3261 §20.14)."""
        lines = [self.start_line()]
        for n, v in self.headers:
            if n == "Content-Length":
                continue
            lines.append(f"{n}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8") + self.body

    def __bytes__(self) -> bytes:
        return self.to_bytes()


class SipRequest(SipMessage):
    def __init__(
        self,
        method: str,
        uri: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        version: str = SIP_VERSION,
        *,
        canonical: bool = False,
    ) -> None:
        super().__init__(headers, body, canonical=canonical)
        self.method = method
        self.uri = uri
        self.version = version

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri}>"


class SipResponse(SipMessage):
    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        version: str = SIP_VERSION,
        *,
        canonical: bool = False,
    ) -> None:
        super().__init__(headers, body, canonical=canonical)
        self.status = status
        self.reason = REASON_PHRASES.get(status, "Unknown") if reason is None else reason
        self.version = version

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """Build a response to ``request`` per RFC 3261 §8.2.6: copy Via, From, To, Call-ID, CSeq
    (and Record-Route for dialog-creating responses, which the caller adds when it wants)."""
    headers: list[tuple[str, str]] = []
    for name, value in request.headers:
        if name in ("Via", "From", "Call-ID", "CSeq"):
            headers.append((name, value))
        elif name == "To":
            if to_tag is not None and status != 100:
                to = NameAddr.parse(value)
                if to.tag is None:
                    value = f"{value};tag={to_tag}"
            headers.append((name, value))
    headers.extend(extra_headers)
    return SipResponse(status, reason, headers, body)
