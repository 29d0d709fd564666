"""The dial plan, pure: normalize numbers to E.164, guard against toll fraud, pick trunks.

No sockets, clock or database here: the router feeds snapshots of trunk rows
(:class:`TrunkSpec`) and the tenant's settings, and gets decisions back.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import phonenumbers

from clickphone.sip.message import split_host_port
from clickphone.sip.transaction import Peer

_VISUAL = re.compile(r"[\s().\-/]")
_DIALLABLE = re.compile(r"^\+?[0-9]{3,20}$")


def normalize(raw: str, default_country: str) -> str | None:
    """``raw`` as an E.164 number (``+79161234567``), or None when it is not a phone number.

    Accepts what people dial: ``+7 916 123-45-67``, ``89161234567`` (national, with the
    tenant's default country), ``0079161234567`` / ``810...`` (international prefixes of the
    default country), and carriers' ``79161234567`` without the plus.
    """
    text = _VISUAL.sub("", raw or "")
    if text.startswith("%2B") or text.startswith("%2b"):
        text = "+" + text[3:]
    if not _DIALLABLE.match(text):
        return None
    candidates: list[tuple[str, str | None]] = [(text, default_country.upper() or None)]
    if not text.startswith("+"):
        candidates.append(("+" + text, None))
    for candidate, region in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


def country_of(e164: str) -> str:
    """ISO 3166 region of an E.164 number ("" when unknown)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    return phonenumbers.region_code_for_number(parsed) or ""


def matches(pattern: str, e164: str) -> bool:
    """A blacklist pattern: an exact E.164 number, or a prefix ending in ``*``."""
    if pattern.endswith("*"):
        return e164.startswith(pattern[:-1])
    return e164 == pattern


def blocked_by(e164: str, patterns: Iterable[str]) -> str | None:
    for pattern in patterns:
        if matches(pattern, e164):
            return pattern
    return None


def parse_hostport(text: str, default_port: int = 5060) -> tuple[str, int]:
    """``host[:port]`` (IPv6 in brackets) as (host, port)."""
    host, port = split_host_port(text.strip())
    return host.strip("[]"), port or default_port


@dataclass(frozen=True)
class TrunkSpec:
    """What routing needs of one trunk row (a snapshot, safe to share between tasks)."""

    id: int
    name: str
    kind: str
    host: str
    port: int = 5060
    transport: str = "UDP"
    tenant_id: int | None = None
    outbound_proxy: str | None = None
    username: str | None = None
    password: str | None = None
    from_domain: str | None = None
    allowed_addresses: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    priority: int = 100
    rate_per_minute: int | None = None
    number_format: str = "e164"
    max_channels: int | None = None
    max_cps: float | None = None
    enabled: bool = True
    register_expires: int = 300
    options_interval: int = 60
    codecs: tuple[str, ...] = ()  # what the carrier accepts; empty: anything we offer
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default=(), compare=False
    )

    @property
    def next_hop(self) -> Peer:
        """Where requests to this trunk are sent: the outbound proxy, else the carrier."""
        if self.outbound_proxy:
            host, port = parse_hostport(self.outbound_proxy)
            return Peer(self.transport.upper(), host, port)
        return Peer(self.transport.upper(), self.host, self.port)

    @property
    def domain(self) -> str:
        return self.from_domain or self.host

    def accepts_from(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def serves(self, e164: str) -> int:
        """Length of the longest prefix of this trunk matching ``e164``: 0 = catch-all
        trunk, -1 = does not serve the number."""
        if not self.prefixes:
            return 0
        best = -1
        for prefix in self.prefixes:
            p = prefix if prefix.startswith("+") else "+" + prefix
            if e164.startswith(p):
                best = max(best, len(p))
        return best

    def dial_string(self, e164: str) -> str:
        """The number as this carrier wants it in the Request-URI."""
        if self.number_format == "plain":
            return e164.lstrip("+")
        return e164


def networks_of(
    addresses: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for addr in addresses:
        try:
            nets.append(ipaddress.ip_network(addr.strip(), strict=False))
        except ValueError:
            continue
    return tuple(nets)


# The least-cost-routing hook: a sort key over (trunk, matched prefix length). The default
# prefers the most specific prefix, then the operator's priority, then the cheaper rate.
LcrKey = Callable[[TrunkSpec, int], tuple[float, ...]]


def default_lcr(trunk: TrunkSpec, matched: int) -> tuple[float, ...]:
    rate = trunk.rate_per_minute if trunk.rate_per_minute is not None else 1 << 30
    return (-matched, trunk.priority, rate, trunk.id)


def choose_trunks(
    e164: str,
    trunks: Sequence[TrunkSpec],
    tenant_id: int,
    *,
    lcr: LcrKey = default_lcr,
) -> list[TrunkSpec]:
    """Trunks that may carry a call of ``tenant_id`` to ``e164``, in failover order.

    A tenant's own trunks come before the operator's (the tenant chose its carrier)."""
    eligible: list[tuple[tuple[float, ...], TrunkSpec]] = []
    for trunk in trunks:
        if not trunk.enabled or trunk.tenant_id not in (None, tenant_id):
            continue
        matched = trunk.serves(e164)
        if matched < 0:
            continue
        own = 0.0 if trunk.tenant_id == tenant_id else 1.0
        eligible.append(((own, *lcr(trunk, matched)), trunk))
    eligible.sort(key=lambda pair: pair[0])
    return [trunk for _, trunk in eligible]


class RateLimiter:
    """Calls per second per trunk: a token bucket with time passed in."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}

    def allow(self, trunk: TrunkSpec, now: float) -> bool:
        if not trunk.max_cps or trunk.max_cps <= 0:
            return True
        rate = trunk.max_cps
        burst = max(1.0, rate)
        tokens, last = self._buckets.get(trunk.id, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[trunk.id] = (tokens, now)
            return False
        self._buckets[trunk.id] = (tokens - 1.0, now)
        return True
