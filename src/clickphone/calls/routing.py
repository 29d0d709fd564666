"""Who is calling and where the call goes: the seam between the B2BUA and the features that
decide routing (extensions now; trunks, DIDs and call flows plug in here).

The B2BUA asks the :class:`CallRouter` two questions for every new INVITE:

1. ``identify(request, peer)`` — who is calling: a device (digest-authenticated), or later a
   carrier trunk (by source address). The answer is a :class:`CallOrigin`, or the SIP response
   to send instead (a 407 challenge, 403, ...).
2. ``route(origin, dialled, request)`` — where to ring: a :class:`Route` with the
   :class:`Target` contacts to fork to (each with its own Request-URI, next hop, identity and,
   for carriers, credentials), or a :class:`RouteFailure` (404 unknown number, 480 nobody
   registered, 403 forbidden destination) with the outcome to log.

:class:`ExtensionRouter` answers both for calls between a tenant's extensions. Other routers
wrap it (``CompositeRouter`` tries them in order).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from clickphone.registrar.auth import SipAuthenticator, uri_user
from clickphone.registrar.service import Registrar
from clickphone.registrar.store import DeviceDirectory
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.transaction import Peer


@dataclass(frozen=True)
class CallOrigin:
    """The calling party as routing and the call log see it."""

    tenant_id: int
    number: str  # extension, E.164 number, or username
    name: str = ""
    employee_id: int | None = None
    device: str | None = None  # SIP username when the caller is one of our devices
    trunk_id: int | None = None  # when the call came from a carrier
    leg_name: str | None = None  # counts as a busy leg of this name (e.g. "trunk:<name>")


@dataclass(frozen=True)
class Target:
    """One contact to ring: an INVITE with ``uri`` sent to ``peer``."""

    uri: str
    peer: Peer
    device: str = ""  # the callee device's username (for legs and logs), or a trunk name
    from_uri: str | None = None  # identity presented to the callee (caller ID)
    from_name: str | None = None
    to_uri: str | None = None
    auth_username: str | None = None  # answer a 401/407 from this hop with these credentials
    auth_password: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()
    # sequential routes: give up on this hop (and try the next) when it has not answered
    # even provisionally within this many seconds — a dead carrier costs seconds, not 32 s
    setup_timeout: float | None = None
    # codecs this hop accepts (trunk setting, e.g. ("PCMA", "telephone-event")); empty: any.
    # The offer sent to it keeps only these (clickphone.trunks.codecs.restrict_codecs).
    codecs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    targets: Sequence[Target]
    direction: str = "internal"  # internal, incoming, outgoing
    callee: str = ""  # the number as logged
    callee_employee_id: int | None = None
    # targets tried one after the other (failover) instead of all at once (forking)
    sequential: bool = False
    trace: tuple[dict[str, object], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class FlowRoute(Route):
    """Hand the call to a call flow: the flow runtime decides step by step what the caller
    hears and who rings (``targets`` is empty). ``graph`` is a published
    :class:`clickphone.flows.model.FlowGraph`; ``owner_employee_id`` is the employee whose
    extension or forwarding rules the flow belongs to (None for numbers and departments)."""

    graph: Any = None
    flow_id: int | None = None
    version: int | None = None
    owner_employee_id: int | None = None
    kind: str = "flow"  # flow, forwarding, department


@dataclass(frozen=True)
class RouteFailure:
    status: int
    reason: str | None = None
    outcome: str | None = None  # None: not a call worth logging (e.g. unknown number)
    direction: str = "internal"
    callee: str = ""
    callee_employee_id: int | None = None


class CallRouter(Protocol):
    async def identify(
        self, request: SipRequest, peer: Peer, *, to_tag: str
    ) -> CallOrigin | SipResponse | None:
        """The caller, a response to send instead, or None: not mine, ask the next router."""
        ...

    async def route(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        """Where to ring ``dialled``, why not, or None: not mine, ask the next router."""
        ...


class ExtensionRouter:
    """Devices call extensions of their own tenant; every registered contact rings."""

    def __init__(
        self, authenticator: SipAuthenticator, directory: DeviceDirectory, registrar: Registrar
    ) -> None:
        self.auth = authenticator
        self.directory = directory
        self.registrar = registrar

    async def identify(
        self, request: SipRequest, peer: Peer, *, to_tag: str
    ) -> CallOrigin | SipResponse | None:
        outcome = await self.auth.authenticate(request, peer, time.time(), to_tag=to_tag)
        if isinstance(outcome, SipResponse):
            return outcome
        return CallOrigin(
            tenant_id=outcome.tenant_id,
            number=outcome.extension or outcome.username,
            name=outcome.display_name,
            employee_id=outcome.employee_id,
            device=outcome.username,
        )

    async def route(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        usernames = await self.directory.usernames_for_extension(origin.tenant_id, dialled)
        if usernames is None:
            return None
        callee_employee_id = None
        if usernames:
            device = await self.directory.get(usernames[0])
            callee_employee_id = device.employee_id if device else None
        targets = [
            Target(uri=b.contact, peer=b.peer, device=u)
            for u in usernames
            for b in self.registrar.lookup(u)
        ]
        if not targets:
            return RouteFailure(
                480, outcome="missed", callee=dialled, callee_employee_id=callee_employee_id
            )
        return Route(targets, callee=dialled, callee_employee_id=callee_employee_id)


class CompositeRouter:
    """Asks each router in turn; the first answer that is not None wins."""

    def __init__(self, routers: Sequence[CallRouter]) -> None:
        self.routers = list(routers)

    async def identify(
        self, request: SipRequest, peer: Peer, *, to_tag: str
    ) -> CallOrigin | SipResponse | None:
        for router in self.routers:
            answer = await router.identify(request, peer, to_tag=to_tag)
            if answer is not None:
                return answer
        return None

    async def route(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        for router in self.routers:
            answer = await router.route(origin, dialled, request)
            if answer is not None:
                return answer
        return None


def dialled_number(request: SipRequest) -> str:
    """The user part of the Request-URI (what the caller dialled)."""
    return uri_user(request.uri) or ""
