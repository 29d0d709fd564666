"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966 minimal, RFC 5954 IPv6 fix).

Components are kept in their wire (escaped) form so ``str(SipUri.parse(s)) == s`` for any
canonical input; comparison follows RFC 3261 §19.1.4: userinfo case-sensitive, everything else
case-insensitive, ``%XX`` escapes of unreserved characters equal to the characters themselves,
and the transport/user/ttl/method/maddr parameters, port and headers never defaulted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from clickphone.sip.errors import SipPeerError

SUPPORTED_SCHEMES = frozenset({"sip", "sips", "tel"})

_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_ESC = r"%[0-9A-Fa-f]{2}"
_USER_RE = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESC})+")
_PASSWORD_RE = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESC})*")
_PARAMCHARS_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESC})+")
# hvalue is *( hnv-unreserved / unreserved / escaped ); we also tolerate a raw "@" there.
_HNAME_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})+")
_HVALUE_RE = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$@]|{_ESC})*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_\-.]*)")
_TEL_NUMBER_RE = re.compile(rf"(?:[0-9A-Fa-f*#+\-.()pPwW]|{_ESC})+")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"
)
# Parameters that never match when present in only one of two URIs (RFC 3261 §19.1.4).
_STICKY_PARAMS = ("transport", "user", "ttl", "method", "maddr")
_TEL_VISUAL = str.maketrans("", "", "-.()")


def normalize_escapes(text: str) -> str:
    """Decode ``%XX`` escapes of unreserved characters and upper-case the remaining ones."""

    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED_CHARS else "%" + match.group(1).upper()

    return _ESCAPE_RE.sub(repl, text)


def unescape(text: str) -> str:
    """Decode every ``%XX`` escape (as UTF-8 where the bytes form UTF-8)."""
    if "%" not in text:
        return text
    raw = bytearray()
    i = 0
    while i < len(text):
        match = _ESCAPE_RE.match(text, i)
        if match:
            raw.append(int(match.group(1), 16))
            i = match.end()
        else:
            raw.extend(text[i].encode("utf-8"))
            i += 1
    return raw.decode("utf-8", errors="replace")


def normalize_host(host: str) -> str:
    """Lower-case a host; write IPv6 references in compressed form (RFC 5954)."""
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return host.lower()
    return host.lower()


def parse_host(text: str) -> str:
    """Validate a URI/Via host: hostname, IPv4 address or bracketed IPv6 reference."""
    if text.startswith("["):
        if not text.endswith("]"):
            raise SipPeerError(f"bad IPv6 reference: {text!r}")
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError as exc:
            raise SipPeerError(f"bad IPv6 reference: {text!r}") from exc
        return text
    if not _HOSTNAME_RE.fullmatch(text):
        raise SipPeerError(f"bad host: {text!r}")
    return text


def parse_port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise SipPeerError(f"bad port: {text!r}")
    return int(text)


def _parse_uri_params(text: str, what: str) -> dict[str, str | None]:
    """``;name[=value]...`` (leading ``;`` already removed); names normalised, values raw."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if not _PARAMCHARS_RE.fullmatch(name) or (sep and not _PARAMCHARS_RE.fullmatch(value)):
            raise SipPeerError(f"bad {what} parameter: {item!r}")
        params[normalize_escapes(name).lower()] = value if sep else None
    return params


def _parse_uri_headers(text: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for item in text.split("&"):
        name, sep, value = item.partition("=")
        if not sep or not _HNAME_RE.fullmatch(name) or not _HVALUE_RE.fullmatch(value):
            raise SipPeerError(f"bad URI header: {item!r}")
        headers.append((name, value))
    return headers


def uri_scheme(text: str) -> str | None:
    """The lower-cased scheme of an absolute URI, or None when ``text`` has none."""
    scheme, sep, _ = text.partition(":")
    if not sep:
        return None
    known = _KNOWN_SCHEMES.get(scheme)
    if known is not None:
        return known
    if not _SCHEME_RE.fullmatch(scheme):
        return None
    return scheme.lower()


_KNOWN_SCHEMES = {name: name.lower() for name in ("sip", "sips", "tel", "SIP", "SIPS", "TEL")}


@dataclass(eq=False)
class SipUri:
    """A parsed ``sip:``/``sips:`` URI, or a ``tel:`` URI (number in ``user``, empty host)."""

    scheme: str
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse ``text``; SipPeerError 416 for a well-formed URI of another scheme, 400 for a
        malformed one."""
        scheme = uri_scheme(text)
        if scheme is None:
            raise SipPeerError(f"not a URI: {text[:80]!r}")
        rest = text[len(scheme) + 1 :]
        if scheme == "tel":
            return cls._parse_tel(rest)
        if scheme not in ("sip", "sips"):
            raise SipPeerError(f"unsupported URI scheme {scheme!r}", 416)
        user: str | None = None
        password: str | None = None
        at = rest.find("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1 :]
            user, colon, pw = userinfo.partition(":")
            if not _USER_RE.fullmatch(user):
                raise SipPeerError(f"bad user part in {text[:80]!r}")
            if colon:
                if not _PASSWORD_RE.fullmatch(pw):
                    raise SipPeerError(f"bad password in {text[:80]!r}")
                password = pw
        rest, qmark, header_text = rest.partition("?")
        hostport, semi, param_text = rest.partition(";")
        host, port = _split_hostport(hostport)
        params = _parse_uri_params(param_text, "URI") if semi else {}
        if semi and not param_text:
            raise SipPeerError(f"empty URI parameter in {text[:80]!r}")
        headers = _parse_uri_headers(header_text) if qmark else []
        return cls(scheme, user, password, host, port, params, headers)

    @classmethod
    def _parse_tel(cls, rest: str) -> SipUri:
        number, semi, param_text = rest.partition(";")
        if not _TEL_NUMBER_RE.fullmatch(number):
            raise SipPeerError(f"bad tel URI number: {number[:40]!r}")
        params = _parse_uri_params(param_text, "tel") if semi else {}
        return cls("tel", number, None, "", None, params, [])

    # -- convenience views ---------------------------------------------------------------
    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter, lower-cased, or None."""
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def aor(self) -> str:
        """``scheme:user@host`` normalised, the key a registrar stores bindings under."""
        if self.scheme == "tel":
            return f"tel:{(self.user or '').translate(_TEL_VISUAL)}"
        user = f"{normalize_escapes(self.user)}@" if self.user is not None else ""
        return f"{self.scheme}:{user}{normalize_host(self.host)}"

    @property
    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    # -- serialisation and comparison -----------------------------------------------------
    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            if self.scheme != "tel":
                out.append("@")
        out.append(self.host_port if self.scheme != "tel" else "")
        for name, value in self.params.items():
            out.append(f";{name}" if value is None else f";{name}={value}")
        if self.headers:
            out.append("?" + "&".join(f"{n}={v}" for n, v in self.headers))
        return "".join(out)

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def _key(self) -> tuple[str, str | None, str, int | None]:
        user = self.user
        if user is not None:
            user = normalize_escapes(user)
            if self.scheme == "tel":
                user = user.translate(_TEL_VISUAL).lower()
        return (self.scheme, user, normalize_host(self.host), self.port)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipUri):
            return NotImplemented
        if self._key() != other._key():
            return False
        if self.password != other.password and (
            self.password is None
            or other.password is None
            or normalize_escapes(self.password) != normalize_escapes(other.password)
        ):
            return False
        mine = {k: _norm_value(v) for k, v in self.params.items()}
        theirs = {k: _norm_value(v) for k, v in other.params.items()}
        for name in _STICKY_PARAMS:
            if (name in mine) != (name in theirs):
                return False
        for name in mine.keys() & theirs.keys():
            if mine[name] != theirs[name]:
                return False
        return _norm_headers(self.headers) == _norm_headers(other.headers)


def _norm_value(value: str | None) -> str | None:
    return None if value is None else normalize_escapes(value).lower()


def _norm_headers(headers: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(normalize_escapes(n).lower(), normalize_escapes(v)) for n, v in headers}


def _split_hostport(text: str) -> tuple[str, int | None]:
    if not text:
        raise SipPeerError("empty host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipPeerError(f"unterminated IPv6 reference: {text[:60]!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipPeerError(f"bad host:port {text[:60]!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_ = text.partition(":")
        port_text = port_text_ if colon else None
    return parse_host(host), (parse_port(port_text) if port_text is not None else None)
