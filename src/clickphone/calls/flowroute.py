"""Where call flows take over routing: published flows attached to an extension, a department
or a virtual number, and an employee's personal forwarding rules.

:class:`FlowRouter` sits on the B2BUA's router seam before the extension router: a dialled
extension whose employee has a flow (or forwarding rules) and a dialled department number
become a :class:`FlowRoute`. :class:`FlowDestination` is the trunk router's inbound
destination: a DID with a flow runs it, other DIDs go to their employee as before (through
the flow router, so the employee's forwarding applies to calls from outside too).

Lookups are cached by the resolver; ``flow.*`` and ``forwarding.*`` events clear them, so a
published change applies to the next call.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from sqlalchemy import select

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.calls.flowrun import FlowEngine, Mailer
from clickphone.calls.routing import (
    CallOrigin,
    CompositeRouter,
    FlowRoute,
    Route,
    RouteFailure,
)
from clickphone.db.models import Department, Employee, PhoneNumber
from clickphone.db.session import Database
from clickphone.flows.model import (
    Duration,
    Edge,
    FlowGraph,
    HangupNode,
    RingGroupNode,
    StartNode,
)
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.transaction import Peer
from clickphone.trunks.router import EmployeeDestination, InboundDestination, TrunkRouter

if TYPE_CHECKING:
    from clickphone.sipserver import SipServer

CACHE_TTL = 30.0
DEPARTMENT_RING_SECONDS = 30


class PublishedLike(Protocol):
    @property
    def flow_id(self) -> int: ...

    @property
    def version(self) -> int: ...

    @property
    def graph(self) -> FlowGraph: ...


class FlowLookup(Protocol):
    async def flow_for(
        self, tenant_id: int, kind: Literal["number", "employee", "department"], target_id: int
    ) -> PublishedLike | None: ...

    async def forwarding_for(self, employee_id: int) -> FlowGraph | None: ...

    def prompt_path(self, tenant_id: int, prompt_id: str) -> Path | None: ...

    async def tts_path(self, text: str, lang: str = "en") -> Path: ...

    async def modules(self, tenant_id: int) -> dict[str, bool]: ...

    def forget(self, tenant_id: int | None = None) -> None: ...


def department_graph(department_id: int) -> FlowGraph:
    """What a department number does without a flow of its own: ring every member."""
    return FlowGraph(
        nodes=(
            StartNode(id="start"),
            RingGroupNode(
                id="ring",
                department_id=department_id,
                strategy="all",
                ring_time=Duration(value=DEPARTMENT_RING_SECONDS),
            ),
            HangupNode(id="end"),
        ),
        edges=(
            Edge(source="start", output="next", target="ring"),
            Edge(source="ring", output="no_answer", target="end"),
        ),
    )


class FlowRouter:
    """Extensions and department numbers whose calls a flow handles."""

    def __init__(self, database: Database, flows: FlowLookup) -> None:
        self.database = database
        self.flows = flows
        self._numbers: dict[tuple[int, str], tuple[float, tuple[str, int] | None]] = {}

    def forget(self, tenant_id: int | None = None) -> None:
        if tenant_id is None:
            self._numbers.clear()
        else:
            for key in [k for k in self._numbers if k[0] == tenant_id]:
                del self._numbers[key]
        self.flows.forget(tenant_id)

    async def identify(
        self, request: SipRequest, peer: Peer, *, to_tag: str
    ) -> CallOrigin | SipResponse | None:
        return None  # callers are identified by the device and trunk routers

    async def _owner(self, tenant_id: int, dialled: str) -> tuple[str, int] | None:
        """("employee", id) or ("department", id) for a short number of the tenant."""
        now = time.monotonic()
        key = (tenant_id, dialled)
        hit = self._numbers.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found: tuple[str, int] | None = None
        if dialled and len(dialled) <= 16:
            async with self.database.session() as session:
                employee_id = (
                    await session.execute(
                        select(Employee.id).where(
                            Employee.tenant_id == tenant_id, Employee.extension == dialled
                        )
                    )
                ).scalar_one_or_none()
                if employee_id is not None:
                    found = ("employee", int(employee_id))
                else:
                    department_id = (
                        await session.execute(
                            select(Department.id).where(
                                Department.tenant_id == tenant_id,
                                Department.extension == dialled,
                            )
                        )
                    ).scalar_one_or_none()
                    if department_id is not None:
                        found = ("department", int(department_id))
        self._numbers[key] = (now + CACHE_TTL, found)
        return found

    async def route(
        self, origin: CallOrigin, dialled: str, request: SipRequest
    ) -> Route | RouteFailure | None:
        owner = await self._owner(origin.tenant_id, dialled)
        if owner is None:
            return None
        kind, target_id = owner
        if kind == "employee":
            if target_id == origin.employee_id:
                return None  # calling yourself: no forwarding loops
            published = await self.flows.flow_for(origin.tenant_id, "employee", target_id)
            if published is not None:
                return self._route(published, dialled, "flow", target_id)
            forwarding = await self.flows.forwarding_for(target_id)
            if forwarding is None:
                return None
            return FlowRoute(
                (),
                callee=dialled,
                callee_employee_id=target_id,
                graph=forwarding,
                owner_employee_id=target_id,
                kind="forwarding",
            )
        published = await self.flows.flow_for(origin.tenant_id, "department", target_id)
        if published is not None:
            return self._route(published, dialled, "department", None)
        return FlowRoute((), callee=dialled, graph=department_graph(target_id), kind="department")

    def _route(
        self, published: PublishedLike, callee: str, kind: str, employee_id: int | None
    ) -> FlowRoute:
        return FlowRoute(
            (),
            callee=callee,
            callee_employee_id=employee_id,
            graph=published.graph,
            flow_id=published.flow_id,
            version=published.version,
            owner_employee_id=employee_id,
            kind=kind,
        )


class FlowDestination:
    """The trunk router's inbound destination: a number's flow, else its employee."""

    def __init__(self, flows: FlowLookup, fallback: InboundDestination) -> None:
        self.flows = flows
        self.fallback = fallback

    async def route(
        self, number: PhoneNumber, origin: CallOrigin, request: SipRequest
    ) -> Route | RouteFailure | None:
        published = await self.flows.flow_for(origin.tenant_id, "number", number.id)
        if published is None:
            return await self.fallback.route(number, origin, request)
        return FlowRoute(
            (),
            direction="incoming",
            callee=number.e164,
            graph=published.graph,
            flow_id=published.flow_id,
            version=published.version,
            kind="number",
        )


__all__ = ["FlowDestination", "FlowLookup", "FlowRouter", "department_graph", "install_flows"]


def install_flows(
    server: SipServer,
    flows: FlowLookup,
    *,
    data_dir: Path,
    bus: EventBus | None = None,
    trunk_router: TrunkRouter | None = None,
    mailer: Mailer | None = None,
    mail_from: str = "",
) -> FlowEngine:
    """Plug call flows into ``server`` before it starts: the flow router ahead of the
    extension router, the flow destination behind the trunk router, the runtime on the
    B2BUA, and cache invalidation on flow, forwarding and directory events."""
    router = FlowRouter(server.database, flows)
    server.routers.append(router)  # after the trunk router, before the extension router
    engine = FlowEngine(
        server.database,
        flows,
        server.directory,
        server.registrar,
        extensions=server.extension_router,
        data_dir=data_dir,
        outbound=trunk_router,
        mailer=mailer,
        mail_from=mail_from,
    )
    server.flows = engine
    if trunk_router is not None:
        fallback = EmployeeDestination(
            server.database, CompositeRouter([router, server.extension_router])
        )
        trunk_router.destination = FlowDestination(flows, fallback)
    if bus is not None:

        async def changed(event: BusEvent) -> None:
            router.forget(event.tenant_id)

        for pattern in ("flow.*", "forwarding.*", "employee.*", "department.*"):
            bus.subscribe(pattern, changed)
    return engine
