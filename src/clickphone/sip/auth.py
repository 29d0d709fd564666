"""HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760), sans I/O.

Algorithms MD5, SHA-256 and SHA-512-256 with qop=auth, plus the qop-less RFC 2069 form for
old MD5-only clients. ``WWW-Authenticate``/``Authorization`` and ``Proxy-Authenticate``/
``Proxy-Authorization`` share the value format; only the header name differs.

Server nonces are stateless: ``base64url(timestamp_ms ‖ random ‖ HMAC-SHA256(secret, realm ‖
timestamp_ms ‖ random)[:16])``. Any node holding the secret verifies them; the timestamp gives
expiry (answered with ``stale=true``). A small in-memory table remembers the nonce counts seen
per nonce so a replayed (nonce, nc) is refused on this node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clickphone.sip.errors import SipPeerError
from clickphone.sip.uri import SipUri

ALGORITHMS: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}

_PARAM_RE = re.compile(
    r"\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*=\s*(\"[^\"\\]*(?:\\.[^\"\\]*)*\"|[^\s,\"]*)\s*(?:,|$)", re.S
)
_NC_RE = re.compile(r"[0-9a-fA-F]{8}")
_SCHEME_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_UNESCAPE_RE = re.compile(r"\\(.)", re.S)
_NONCE_RE = re.compile(r"[A-Za-z0-9_\-]+")
_NONCE_BYTES = 8 + 8 + 16


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(ALGORITHMS[algorithm], text.encode("utf-8")).hexdigest()


def _canonical_algorithm(name: str) -> str | None:
    upper = name.upper()
    return upper if upper in ALGORITHMS else None


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username ":" realm ":" password) in lower-case hex."""
    canonical = _canonical_algorithm(algorithm)
    if canonical is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    return _hash(canonical, f"{username}:{realm}:{password}")


def compute_response(
    algorithm: str,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    *,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The request-digest of RFC 7616 §3.4.1 (or RFC 2069 when ``qop`` is None)."""
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def parse_auth_params(text: str) -> tuple[str, dict[str, str]]:
    """Split ``Scheme k=v, k="v"`` into the scheme and its parameters (names lower-cased,
    quoted values unescaped). Raises ValueError when the text is not of that form."""
    text = text.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme or not _SCHEME_RE.fullmatch(scheme):
        raise ValueError("missing auth scheme")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    end = len(rest)
    match_at = _PARAM_RE.match
    while pos < end:
        match = match_at(rest, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"malformed auth parameter near {rest[pos : pos + 30]!r}")
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = value[1:-1]
            if "\\" in value:
                value = _UNESCAPE_RE.sub(r"\1", value)
        if name in params:
            raise ValueError(f"duplicate auth parameter {name!r}")
        params[name] = value
        pos = match.end()
    return scheme, params


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- server side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    """Outcome of ``DigestServer.verify``. ``username`` is the name the client claimed (also
    on failure, for logging and rate limiting); ``stale`` asks for a new challenge with
    ``stale=true`` (the credentials were right but the nonce is expired or its count reused)."""

    ok: bool
    username: str | None
    stale: bool
    reason: str
    algorithm: str | None = None


class DigestServer:
    """Challenges and verifies Digest credentials for one realm.

    ``lookup_ha1(username, algorithm)`` returns the stored H(username:realm:password) for this
    server's realm and the given algorithm ("MD5", "SHA-256", "SHA-512-256"), or None for an
    unknown user. An unknown user is verified against a dummy HA1 so that the answer and the
    work done do not reveal which usernames exist.
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        nonce_ttl: float = 300.0,
        *,
        max_tracked_nonces: int = 10000,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the nonce secret must be at least 16 bytes")
        self.realm = realm
        self._secret = secret
        self.nonce_ttl = nonce_ttl
        self._max_tracked = max_tracked_nonces
        self._seen: OrderedDict[str, set[int]] = OrderedDict()

    # -- nonces --------------------------------------------------------------------------
    def make_nonce(self, now: float) -> str:
        stamp = struct.pack(">q", int(now * 1000))
        salt = secrets.token_bytes(8)
        return base64.urlsafe_b64encode(stamp + salt + self._mac(stamp + salt)).decode().rstrip("=")

    def _mac(self, payload: bytes) -> bytes:
        return hmac.digest(self._secret, self.realm.encode() + b"\0" + payload, "sha256")[:16]

    def _nonce_time(self, nonce: str) -> float | None:
        """The issue time of a nonce we signed, or None for a forged/foreign one."""
        if len(nonce) != 43 or not _NONCE_RE.fullmatch(nonce):
            return None
        raw = base64.urlsafe_b64decode(nonce + "=")
        if len(raw) != _NONCE_BYTES:
            return None
        payload, mac = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        (millis,) = struct.unpack(">q", payload[:8])
        return float(millis) / 1000.0

    # -- challenge -----------------------------------------------------------------------
    def challenge_headers(
        self, algorithms: Sequence[str], now: float, stale: bool = False
    ) -> list[str]:
        """One WWW-Authenticate (or Proxy-Authenticate) value per algorithm, in the order
        given (RFC 8760 §2.4: most preferred first). Some clients (baresip) fail when offered
        SHA-256, so the list is configurable per device."""
        nonce = self.make_nonce(now)
        values: list[str] = []
        for name in algorithms:
            algorithm = _canonical_algorithm(name)
            if algorithm is None:
                raise ValueError(f"unsupported digest algorithm {name!r}")
            value = (
                f"Digest realm={_quote(self.realm)}, nonce={_quote(nonce)}, "
                f'algorithm={algorithm}, qop="auth"'
            )
            if stale:
                value += ", stale=true"
            values.append(value)
        return values

    # -- verification --------------------------------------------------------------------
    def verify(
        self,
        method: str,
        authorization: str,
        lookup_ha1: Callable[[str, str], str | None],
        now: float,
        *,
        request_uri: str | None = None,
        algorithms: Sequence[str] | None = None,
    ) -> DigestResult:
        """Check one Authorization/Proxy-Authorization value for a request of ``method``.

        When ``request_uri`` is given, the digest ``uri`` must equal it (RFC 7616 §3.4.6);
        when ``algorithms`` is given, only those are accepted.
        """
        if authorization.strip().partition(" ")[0].lower() != "digest":
            return DigestResult(False, None, False, "unsupported auth scheme")
        try:
            _, params = parse_auth_params(authorization)
        except ValueError:
            return DigestResult(False, None, False, "malformed credentials")
        username = params.get("username")
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in params]
        if missing or username is None:
            return DigestResult(False, username, False, f"missing {', '.join(missing)}")
        algorithm = _canonical_algorithm(params.get("algorithm", "MD5"))
        if algorithm is None or (
            algorithms is not None
            and algorithm not in {_canonical_algorithm(a) for a in algorithms}
        ):
            return DigestResult(False, username, False, "unsupported algorithm")
        if params["realm"] != self.realm:
            return DigestResult(False, username, False, "wrong realm", algorithm)
        if request_uri is not None and not _same_uri(params["uri"], request_uri):
            return DigestResult(False, username, False, "uri mismatch", algorithm)
        qop = params.get("qop")
        nc = params.get("nc")
        cnonce = params.get("cnonce")
        if qop is not None:
            if qop.lower() != "auth":
                return DigestResult(False, username, False, "unsupported qop", algorithm)
            if nc is None or not _NC_RE.fullmatch(nc) or not cnonce:
                return DigestResult(False, username, False, "bad nc or cnonce", algorithm)
        elif algorithm != "MD5" or nc is not None or cnonce is not None:
            return DigestResult(False, username, False, "qop required", algorithm)
        issued = self._nonce_time(params["nonce"])
        if issued is None:
            return DigestResult(False, username, False, "invalid nonce", algorithm)

        ha1 = lookup_ha1(username, algorithm)
        known = ha1 is not None
        if ha1 is None:
            ha1 = _hash(algorithm, f"{self._secret.hex()}:{username}:{self.realm}")
        expected = compute_response(
            algorithm,
            ha1.lower(),
            params["nonce"],
            method,
            params["uri"],
            qop=qop.lower() if qop else None,
            nc=nc,
            cnonce=cnonce,
        )
        matches = hmac.compare_digest(expected.encode(), params["response"].lower().encode())
        if not (matches and known):
            return DigestResult(False, username, False, "invalid credentials", algorithm)
        age = now - issued
        if age > self.nonce_ttl or age < -self.nonce_ttl:
            return DigestResult(False, username, True, "stale nonce", algorithm)
        if nc is not None and not self._remember(params["nonce"], int(nc, 16)):
            return DigestResult(False, username, True, "nonce count reused", algorithm)
        return DigestResult(True, username, False, "ok", algorithm)

    def _remember(self, nonce: str, count: int) -> bool:
        seen = self._seen.get(nonce)
        if seen is None:
            seen = set()
            self._seen[nonce] = seen
            while len(self._seen) > self._max_tracked:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(nonce)
        if count in seen or len(seen) >= 1024:
            return False
        seen.add(count)
        return True


def _same_uri(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return SipUri.parse(a) == SipUri.parse(b)
    except SipPeerError:
        return False


# -- client side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """A parsed WWW-Authenticate/Proxy-Authenticate value."""

    scheme: str
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    params: dict[str, str] = field(default_factory=dict)

    @property
    def supported(self) -> bool:
        """Whether ``build_authorization`` can answer it (Digest, known algorithm)."""
        return self.scheme.lower() == "digest" and _canonical_algorithm(self.algorithm) is not None


def parse_challenge(header_value: str) -> Challenge:
    """Parse a challenge; raises ValueError when it is not a Digest challenge with realm and
    nonce."""
    scheme, params = parse_auth_params(header_value)
    if scheme.lower() != "digest":
        raise ValueError(f"unsupported auth scheme {scheme!r}")
    if "realm" not in params or "nonce" not in params:
        raise ValueError("challenge without realm or nonce")
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        scheme=scheme,
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        params=params,
    )


def build_authorization(
    challenge: Challenge,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int,
    cnonce: str,
) -> str:
    """The Authorization/Proxy-Authorization value answering ``challenge``. Uses qop=auth
    when offered, the RFC 2069 form otherwise."""
    algorithm = _canonical_algorithm(challenge.algorithm)
    if algorithm is None:
        raise ValueError(f"unsupported digest algorithm {challenge.algorithm!r}")
    ha1 = compute_ha1(username, challenge.realm, password, algorithm)
    qop = "auth" if "auth" in challenge.qop else None
    nc_text = f"{nc:08x}"
    response = compute_response(
        algorithm, ha1, challenge.nonce, method, uri, qop=qop, nc=nc_text, cnonce=cnonce
    )
    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={algorithm}",
    ]
    if qop is not None:
        parts += [f"cnonce={_quote(cnonce)}", f"qop={qop}", f"nc={nc_text}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)
