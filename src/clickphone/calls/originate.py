"""Click-to-call and the cabinet's "Call back": the originator behind ``app.state.originator``
(see :mod:`clickphone.callback.service`). It finds the devices of the employee (or of every
member of the department) that are registered and not busy, and asks the B2BUA to ring them
first and then the visitor's number, bridging the two."""

from __future__ import annotations

from collections.abc import Callable

from clickphone.calls.flowrun import FlowEngine
from clickphone.calls.routing import CallOrigin
from clickphone.sipserver import SipServer


class OriginateError(Exception):
    """The call cannot be placed (telephony down, nobody to ring)."""


class CallbackOriginator:
    def __init__(self, server: Callable[[], SipServer | None]) -> None:
        self._server = server

    async def call_back(
        self,
        *,
        tenant_id: int,
        employee_id: int | None,
        department_id: int | None,
        number_e164: str,
        source: str,
    ) -> str:
        server = self._server()
        if server is None or server.calls is None or not isinstance(server.flows, FlowEngine):
            raise OriginateError("telephony is not running")
        engine, calls = server.flows, server.calls
        employees = [employee_id] if employee_id is not None else []
        members = await engine.members(tenant_id, employees, department_id)
        busy = set(calls.busy_legs())
        targets = [t for m in members for t in await engine.targets(tenant_id, m, busy)]
        if not targets:
            raise OriginateError("nobody to ring: no registered phone is free")
        first = members[0] if employee_id is not None and members else None
        origin = CallOrigin(
            tenant_id=tenant_id,
            number=first.extension if first is not None else number_e164,
            name=f"Callback ({source})",
            employee_id=employee_id,
            device="callback",
        )
        label = f"employee {employee_id}" if employee_id is not None else f"dept {department_id}"
        return await calls.originate(
            tenant_id=tenant_id, first=targets, origin=origin, second=number_e164, first_label=label
        )
