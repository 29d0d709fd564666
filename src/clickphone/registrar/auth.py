"""Digest authentication of SIP requests from devices (REGISTER, INVITE, ...).

One path for every failure: an unknown username and a wrong password produce the same
answer (403, after the same digest computation inside ``DigestServer.verify``), so nobody can
enumerate extensions or usernames. Repeated failures from one source address block it for a
while; each block is reported once through ``on_blocked``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence

from clickphone.registrar.limits import AuthFailureLimiter
from clickphone.registrar.store import DeviceDirectory, DeviceInfo
from clickphone.sip.auth import DigestServer
from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse, make_response
from clickphone.sip.transaction import Peer
from clickphone.sip.uri import SipUri

log = logging.getLogger("clickphone.registrar")

DEFAULT_ALGORITHMS: tuple[str, ...] = ("SHA-256", "MD5")


def uri_user(uri: str) -> str | None:
    """The user part of a SIP URI (None when it has none or is not a valid SIP URI)."""
    if uri in _URI_USERS:
        return _URI_USERS[uri]
    try:
        user = SipUri.parse(uri).user
    except SipPeerError:
        user = None
    if len(_URI_USERS) >= 50_000:  # bounded: URIs come from the network
        _URI_USERS.clear()
    _URI_USERS[uri] = user
    return user


# Phones repeat the same From/To in every request: URI -> user part, remembered.
_URI_USERS: dict[str, str | None] = {}


class SipAuthenticator:
    def __init__(
        self,
        directory: DeviceDirectory,
        digest: DigestServer,
        limiter: AuthFailureLimiter,
        *,
        on_blocked: Callable[[str, str], None] | None = None,
        default_algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        decoy_key: bytes = b"",
    ) -> None:
        self.directory = directory
        self.digest = digest
        self.limiter = limiter
        self.on_blocked = on_blocked
        self.default_algorithms = tuple(default_algorithms)
        self.decoy_key = decoy_key or secrets.token_bytes(32)

    async def _decoy_algorithms(self, username: str) -> tuple[str, ...]:
        """Algorithms to challenge an unknown username with.

        Devices differ in the algorithms they are offered (MD5 alone for phones that fail on
        SHA-256), so a fixed answer for unknown names would tell a scanner which names exist.
        An unknown name gets one of the lists real devices get, in proportion to how many
        devices use it, chosen by a keyed hash of the name so it is the same every time.
        """
        sets = await self.directory.algorithm_sets()
        total = sum(count for _, count in sets)
        if total == 0:
            return self.default_algorithms
        digest = hmac.new(self.decoy_key, username.encode(), hashlib.sha256).digest()
        pick = int.from_bytes(digest[:8], "big") % total
        for algorithms, count in sets:
            if pick < count:
                return algorithms
            pick -= count
        return self.default_algorithms

    async def authenticate(
        self, request: SipRequest, peer: Peer, now: float, *, to_tag: str | None = None
    ) -> DeviceInfo | SipResponse:
        """The device that sent ``request``, or the response to send instead (401/407/403).

        REGISTER is challenged with 401 (WWW-Authenticate), other requests with 407
        (Proxy-Authenticate), as a registrar and a proxy would.
        """
        if self.limiter.blocked(peer.host, now):
            return make_response(request, 403, "Forbidden", to_tag=to_tag)
        is_register = request.method == "REGISTER"
        identity = request.to if is_register else request.from_
        username = uri_user(identity.uri) or ""
        header = "Authorization" if is_register else "Proxy-Authorization"
        device = await self.directory.get(username) if username else None
        if device is not None:
            algorithms: Sequence[str] = device.algorithms
        else:
            algorithms = await self._decoy_algorithms(username)
        credentials = request.get(header)
        if credentials is None:
            return self._challenge(request, algorithms, now, stale=False, to_tag=to_tag)

        def lookup(user: str, algorithm: str) -> str | None:
            if device is None or user != device.username or not device.enabled:
                return None
            if algorithm.upper() not in {a.upper() for a in device.algorithms}:
                return None
            return device.ha1.get(_canonical_algorithm(algorithm))

        result = self.digest.verify(
            request.method, credentials, lookup, now, request_uri=request.uri
        )
        if result.ok and device is not None and result.username == username:
            self.limiter.success(peer.host)
            return device
        if result.stale:
            return self._challenge(request, algorithms, now, stale=True, to_tag=to_tag)
        log.info(
            "x auth failed for %s from %s:%s (%s) call-id=%s",
            username[:64],
            peer.host,
            peer.port,
            result.reason,
            request.get("Call-ID"),
        )
        if self.limiter.failure(peer.host, now) and self.on_blocked is not None:
            self.on_blocked(peer.host, username[:64])
        return make_response(request, 403, "Forbidden", to_tag=to_tag)

    def _challenge(
        self,
        request: SipRequest,
        algorithms: Sequence[str],
        now: float,
        *,
        stale: bool,
        to_tag: str | None,
    ) -> SipResponse:
        is_register = request.method == "REGISTER"
        name = "WWW-Authenticate" if is_register else "Proxy-Authenticate"
        status = 401 if is_register else 407
        headers = [(name, v) for v in self.digest.challenge_headers(algorithms, now, stale=stale)]
        return make_response(request, status, to_tag=to_tag, extra_headers=headers)


def _canonical_algorithm(name: str) -> str:
    upper = name.upper()
    if upper.endswith("-SESS"):
        upper = upper[: -len("-SESS")]
    return {"MD5": "MD5", "SHA-256": "SHA-256", "SHA-512-256": "SHA-512-256"}.get(upper, upper)
