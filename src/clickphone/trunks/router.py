"""The PSTN routers plugged into the B2BUA's routing seam (:mod:`clickphone.calls.routing`).

:class:`TrunkRouter` answers for calls that involve a carrier:

- **inbound** — ``identify`` recognises a trunk by the request's source address (listed
  addresses/CIDRs, the carrier's host, its outbound proxy), maps the dialled DID to the
  number's owner and returns an origin in that tenant; ``route`` refuses blacklisted callers
  and hands the call to the number's destination (:class:`InboundDestination`, the hook call
  flows will replace; by default the number's employee, or the employee of its user).
- **outbound** — ``route`` takes what a device dialled when it is not an extension,
  normalizes it to E.164 with the tenant's default country, applies the toll-fraud guard
  (blacklist, allowed countries: 403 with a reason and a ``call.refused`` event), picks trunks
  (prefix, priority, rate: the least-cost-routing hook), skips trunks that are down, full or
  over their calls per second, and returns them in failover order with the caller ID the user
  or tenant chose and the carrier's credentials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol

from sqlalchemy import or_, select

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.calls.routing import (
    CallOrigin,
    CallRouter,
    Route,
    RouteFailure,
    Target,
)
from clickphone.db.models import (
    BlockedNumber,
    Contact,
    ContactNumber,
    Employee,
    PhoneNumber,
    TenantPhoneSettings,
    UserPhoneSettings,
)
from clickphone.db.session import Database
from clickphone.registrar.auth import uri_user
from clickphone.sip.message import SipRequest, SipResponse, make_response
from clickphone.sip.transaction import Peer
from clickphone.trunks.dialplan import (
    LcrKey,
    RateLimiter,
    TrunkSpec,
    blocked_by,
    choose_trunks,
    country_of,
    default_lcr,
    normalize,
)
from clickphone.trunks.registry import TrunkRegistry

log = logging.getLogger("clickphone.trunks")

DEFAULT_COUNTRY = "RU"


class ExtensionLookup(Protocol):
    async def usernames_for_extension(self, tenant_id: int, extension: str) -> list[str] | None: ...


class InboundDestination(Protocol):
    """Where a call to one of a tenant's numbers goes. Call flows plug in here."""

    async def route(
        self, number: PhoneNumber, origin: CallOrigin, request: SipRequest
    ) -> Route | RouteFailure | None: ...


class EmployeeDestination:
    """The number's employee (or its user's employee) rings on all their devices, through
    the extension router so forwarding rules on extensions apply there too."""

    def __init__(self, database: Database, extensions: CallRouter) -> None:
        self.database = database
        self.extensions = extensions

    async def route(
        self, number: PhoneNumber, origin: CallOrigin, request: SipRequest
    ) -> Route | RouteFailure | None:
        async with self.database.session() as session:
            employee: Employee | None = None
            if number.employee_id is not None:
                employee = await session.get(Employee, number.employee_id)
            elif number.user_id is not None:
                employee = (
                    await session.execute(
                        select(Employee).where(Employee.user_id == number.user_id)
                    )
                ).scalar_one_or_none()
        if employee is None or employee.tenant_id != origin.tenant_id or not employee.extension:
            return None
        return await self.extensions.route(origin, employee.extension, request)


# Active calls per trunk name, given by the call manager's owner (wired in install()).
UsageProvider = Callable[[], Iterable[str]]


class TrunkRouter:
    def __init__(
        self,
        database: Database,
        registry: TrunkRegistry,
        *,
        extensions: ExtensionLookup,
        destination: InboundDestination | None = None,
        bus: EventBus | None = None,
        usage: UsageProvider | None = None,
        is_down: Callable[[int], bool] | None = None,
        lcr: LcrKey = default_lcr,
        default_country: str = DEFAULT_COUNTRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.registry = registry
        self.extensions = extensions
        self.destination = destination
        self.bus = bus
        self.usage = usage
        self.is_down = is_down
        self.lcr = lcr
        self.default_country = default_country
        self.clock = clock
        self.cps = RateLimiter()

    # -- who calls -----------------------------------------------------------------------
    async def identify(
        self, request: SipRequest, peer: Peer, *, to_tag: str
    ) -> CallOrigin | SipResponse | None:
        trunk = await self.registry.for_source(peer.host)
        if trunk is None:
            return None
        did = self.inbound_did(request, trunk)
        number = await self._number(did) if did else None
        if number is None or number.tenant_id is None:
            log.info("x %s trunk %s: no such number %r", request.call_id, trunk.name, did)
            return make_response(request, 404, "Number not in service", to_tag=to_tag)
        tenant_id = number.tenant_id
        settings = await self._tenant_settings(tenant_id)
        raw_caller = uri_user(request.from_.uri) or ""
        caller = normalize(raw_caller, settings.default_country) or raw_caller or "anonymous"
        name = await self._contact_name(tenant_id, caller)
        if name is None:
            name = (request.from_.display_name or "").strip()
        return CallOrigin(
            tenant_id=tenant_id,
            number=caller,
            name=name,
            trunk_id=trunk.id,
            leg_name=target_name(trunk),  # an inbound call holds one of the trunk's channels
        )

    def inbound_did(self, request: SipRequest, trunk: TrunkSpec) -> str | None:
        """The dialled DID, normalized. A carrier we register with sends calls to our
        Contact (its user is the trunk username), the DID is then in To."""
        country = self.default_country
        user = uri_user(request.uri) or ""
        if trunk.username and user == trunk.username:
            user = uri_user(request.to.uri) or ""
        return normalize(user, country)

    # -- where to -----------------------------------------------------------------------
    async def route(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        if origin.trunk_id is not None:
            return await self._route_inbound(origin, request)
        if origin.device is None:
            return None  # not one of our devices: other routers decide
        if await self.extensions.usernames_for_extension(origin.tenant_id, dialled) is not None:
            return None  # an extension
        return await self._route_outbound(origin, dialled, request)

    async def _route_inbound(self, origin: CallOrigin, request: SipRequest) -> Route | RouteFailure:
        trunk = await self.registry.get(origin.trunk_id or 0)
        did = self.inbound_did(request, trunk) if trunk is not None else None
        number = await self._number(did) if did else None
        if number is None or did is None:
            return RouteFailure(404, "Number not in service", direction="incoming")
        blocked = await self._blocked(origin.tenant_id, origin.number, "inbound")
        if blocked is not None:
            await self._refused(origin, did, "caller_blocked", pattern=blocked)
            return RouteFailure(
                403, "Caller blocked", outcome="failed", direction="incoming", callee=did
            )
        route = None
        if self.destination is not None:
            route = await self.destination.route(number, origin, request)
        if route is None:
            return RouteFailure(
                480,
                "No destination for this number",
                outcome="missed",
                direction="incoming",
                callee=did,
            )
        trace = ({"at": round(time.time(), 3), "step": "did", "number": did},)
        if isinstance(route, RouteFailure):
            return RouteFailure(
                route.status,
                route.reason,
                outcome=route.outcome or "missed",
                direction="incoming",
                callee=did,
                callee_employee_id=route.callee_employee_id,
            )
        # replace() keeps the route's kind (a call flow's FlowRoute stays one)
        return replace(route, direction="incoming", callee=did, trace=trace + tuple(route.trace))

    async def _route_outbound(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        settings = await self._tenant_settings(origin.tenant_id)
        e164 = normalize(dialled, settings.default_country)
        if e164 is None:
            return None
        blocked = await self._blocked(origin.tenant_id, e164, "outbound")
        if blocked is not None:
            await self._refused(origin, e164, "destination_blocked", pattern=blocked)
            return RouteFailure(
                403, "Destination blocked", outcome="failed", direction="outgoing", callee=e164
            )
        allowed = {c.upper() for c in (settings.allowed_countries or [])} or {
            settings.default_country.upper()
        }
        country = country_of(e164)
        if "*" not in allowed and country not in allowed:
            await self._refused(origin, e164, "country_not_allowed", country=country)
            return RouteFailure(
                403,
                f"Calls to {country or 'this destination'} not allowed",
                outcome="failed",
                direction="outgoing",
                callee=e164,
            )
        candidates = choose_trunks(
            e164, await self.registry.trunks(), origin.tenant_id, lcr=self.lcr
        )
        if not candidates:
            return RouteFailure(
                503,
                "No route to destination",
                outcome="failed",
                direction="outgoing",
                callee=e164,
            )
        usable = self._usable(candidates)
        if not usable:
            return RouteFailure(
                503, "All trunks busy", outcome="failed", direction="outgoing", callee=e164
            )
        caller_id = await self._caller_id(origin)
        targets = [self._target(trunk, e164, caller_id, origin) for trunk in usable]
        trace = (
            {
                "at": round(time.time(), 3),
                "step": "dialplan",
                "number": e164,
                "trunks": [t.name for t in usable],
                "caller_id": caller_id or "anonymous",
            },
        )
        return Route(targets, direction="outgoing", callee=e164, sequential=True, trace=trace)

    def _usable(self, candidates: list[TrunkSpec]) -> list[TrunkSpec]:
        """Trunks with a free channel and within their calls per second; trunks seen down
        go last (they may be back)."""
        counts: dict[str, int] = {}
        if self.usage is not None:
            for name in self.usage():
                counts[name] = counts.get(name, 0) + 1
        now = self.clock()
        up: list[TrunkSpec] = []
        down: list[TrunkSpec] = []
        for trunk in candidates:
            if (
                trunk.max_channels is not None
                and counts.get(target_name(trunk), 0) >= trunk.max_channels
            ):
                continue
            if not self.cps.allow(trunk, now):
                continue
            (down if self.is_down is not None and self.is_down(trunk.id) else up).append(trunk)
        return up + down

    def _target(
        self, trunk: TrunkSpec, e164: str, caller_id: str | None, origin: CallOrigin
    ) -> Target:
        user = trunk.dial_string(e164)
        port = "" if trunk.port == 5060 else f":{trunk.port}"
        transport = "" if trunk.transport == "UDP" else f";transport={trunk.transport.lower()}"
        if caller_id is not None:
            from_uri = f"sip:{trunk.dial_string(caller_id)}@{trunk.domain}"
            headers: tuple[tuple[str, str], ...] = ()
            if trunk.username:
                headers = (
                    ("P-Asserted-Identity", f"<sip:{trunk.dial_string(caller_id)}@{trunk.domain}>"),
                )
        else:
            from_uri = "sip:anonymous@anonymous.invalid"
            headers = (("Privacy", "id"),)
        return Target(
            uri=f"sip:{user}@{trunk.host}{port}{transport}",
            peer=trunk.next_hop,
            device=target_name(trunk),
            from_uri=from_uri,
            from_name="" if caller_id is None else None,
            to_uri=f"sip:{user}@{trunk.domain}",
            auth_username=trunk.username,
            auth_password=trunk.password,
            extra_headers=headers,
            setup_timeout=TRUNK_SETUP_TIMEOUT,
            codecs=trunk.codecs,
        )

    # -- lookups -------------------------------------------------------------------------
    async def _number(self, e164: str) -> PhoneNumber | None:
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(PhoneNumber).where(
                        PhoneNumber.e164 == e164, PhoneNumber.state == "assigned"
                    )
                )
            ).scalar_one_or_none()
            if row is not None:
                session.expunge(row)
            return row

    async def _tenant_settings(self, tenant_id: int) -> TenantPhoneSettings:
        async with self.database.session() as session:
            row = await session.get(TenantPhoneSettings, tenant_id)
            if row is not None:
                session.expunge(row)
                return row
        return TenantPhoneSettings(
            tenant_id=tenant_id, default_country=self.default_country, allowed_countries=[]
        )

    async def _blocked(self, tenant_id: int, e164: str, direction: str) -> str | None:
        async with self.database.session() as session:
            patterns = (
                await session.execute(
                    select(BlockedNumber.pattern).where(
                        or_(
                            BlockedNumber.tenant_id == tenant_id, BlockedNumber.tenant_id.is_(None)
                        ),
                        BlockedNumber.direction.in_(("both", direction)),
                    )
                )
            ).scalars()
            return blocked_by(e164, patterns)

    async def _contact_name(self, tenant_id: int, e164: str) -> str | None:
        async with self.database.session() as session:
            return (
                await session.execute(
                    select(Contact.name)
                    .join(ContactNumber, ContactNumber.contact_id == Contact.id)
                    .where(Contact.tenant_id == tenant_id, ContactNumber.number == e164)
                    .order_by(Contact.owner_user_id.is_not(None), Contact.id)
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def _caller_id(self, origin: CallOrigin) -> str | None:
        """The number presented to the called party: the user's choice, the tenant's
        choice, a number assigned to the user, any number of the tenant; None = anonymous."""
        async with self.database.session() as session:
            user_id = None
            if origin.employee_id is not None:
                employee = await session.get(Employee, origin.employee_id)
                user_id = employee.user_id if employee is not None else None
            chosen: list[int] = []
            if user_id is not None:
                ups = await session.get(UserPhoneSettings, user_id)
                if ups is not None and ups.caller_id_number_id is not None:
                    chosen.append(ups.caller_id_number_id)
            tps = await session.get(TenantPhoneSettings, origin.tenant_id)
            if tps is not None and tps.caller_id_number_id is not None:
                chosen.append(tps.caller_id_number_id)
            for number_id in chosen:
                number = await session.get(PhoneNumber, number_id)
                if (
                    number is not None
                    and number.tenant_id == origin.tenant_id
                    and number.state == "assigned"
                ):
                    return number.e164
            owned = select(PhoneNumber.e164).where(
                PhoneNumber.tenant_id == origin.tenant_id, PhoneNumber.state == "assigned"
            )
            if user_id is not None:
                mine = (
                    await session.execute(owned.where(PhoneNumber.user_id == user_id).limit(1))
                ).scalar_one_or_none()
                if mine is not None:
                    return mine
            return (
                await session.execute(owned.order_by(PhoneNumber.id).limit(1))
            ).scalar_one_or_none()

    async def _refused(self, origin: CallOrigin, number: str, reason: str, **details: str) -> None:
        log.warning(
            "x call refused (%s) tenant=%s caller=%s number=%s",
            reason,
            origin.tenant_id,
            origin.number,
            number,
        )
        if self.bus is not None:
            await self.bus.publish(
                BusEvent(
                    "call.refused",
                    {
                        "tenant_id": origin.tenant_id,
                        "caller": origin.number,
                        "employee_id": origin.employee_id,
                        "trunk_id": origin.trunk_id,
                        "number": number,
                        "reason": reason,
                        **details,
                    },
                    tenant_id=origin.tenant_id,
                )
            )


# A carrier that has not even said 100 Trying within this time is skipped for the next trunk.
TRUNK_SETUP_TIMEOUT = 5.0


def target_name(trunk: TrunkSpec) -> str:
    """The device name of a trunk leg (call legs and channel counting)."""
    return f"trunk:{trunk.name}"


__all__ = ["EmployeeDestination", "InboundDestination", "TrunkRouter", "target_name"]
