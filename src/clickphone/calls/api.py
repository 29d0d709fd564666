"""/api/v1 routes for live calls."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from clickphone.api.deps import CurrentActor, ServicesDep
from clickphone.api.schemas import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES, tags=["calls"])


class ActiveCallOut(BaseModel):
    id: str
    tenant_id: int
    caller: str
    caller_name: str
    callee: str
    state: str
    started_at: datetime
    answered_at: datetime | None


class ActiveCallsOut(BaseModel):
    items: list[ActiveCallOut]
    total: int


@router.get("/calls/active")
async def active_calls(actor: CurrentActor, services: ServicesDep) -> ActiveCallsOut:
    """Calls in progress now (ringing or talking). An operator admin sees every tenant's."""
    phone = services.extra.get("telephony")
    sip = getattr(phone, "sip", None)
    calls = getattr(sip, "calls", None)
    if calls is None:
        return ActiveCallsOut(items=[], total=0)
    tenant = None if actor.role == "operator_admin" else actor.tenant_id
    if tenant is None and actor.role != "operator_admin":
        return ActiveCallsOut(items=[], total=0)
    items = [ActiveCallOut.model_validate(c) for c in calls.active_calls(tenant)]
    return ActiveCallsOut(items=items, total=len(items))
