"""/api/v1 routes for live calls and the call log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, func, or_, select

from clickphone.accounts.errors import NotFound
from clickphone.accounts.scope import scoped
from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.export import csv_response, xlsx_response
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.listing import paginate
from clickphone.db.models import CallRecord, Employee

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


class CallRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: int
    direction: str
    caller: str
    caller_name: str
    caller_employee_id: int | None
    callee: str
    callee_employee_id: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    ring_seconds: float
    talk_seconds: float
    outcome: str
    end_reason: str
    legs: list[dict[str, Any]]
    trace: list[dict[str, Any]]


Outcome = Literal["answered", "missed", "busy", "failed", "cancelled", "in_progress"]


async def _call_log_query(
    actor: CurrentActor,
    session: SessionDep,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    outcome: Annotated[list[Outcome] | None, Query()] = None,
    direction: Annotated[Literal["internal", "incoming", "outgoing"] | None, Query()] = None,
    employee_id: Annotated[int | None, Query()] = None,
    extension: Annotated[str | None, Query(max_length=16)] = None,
) -> Select[Any]:
    """The call-log filters, shared by the list and its exports."""
    stmt = scoped(select(CallRecord), CallRecord, actor)
    if not actor.can_manage_tenant:
        own = select(Employee.id).where(Employee.user_id == actor.user_id)
        stmt = stmt.where(
            or_(CallRecord.caller_employee_id.in_(own), CallRecord.callee_employee_id.in_(own))
        )
    if date_from is not None:
        stmt = stmt.where(CallRecord.started_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(CallRecord.started_at < date_to)
    if outcome:
        stmt = stmt.where(CallRecord.outcome.in_(outcome))
    if direction is not None:
        stmt = stmt.where(CallRecord.direction == direction)
    if employee_id is not None:
        stmt = stmt.where(
            or_(
                CallRecord.caller_employee_id == employee_id,
                CallRecord.callee_employee_id == employee_id,
            )
        )
    if extension is not None:
        stmt = stmt.where(or_(CallRecord.caller == extension, CallRecord.callee == extension))
    return stmt


CallLogQuery = Annotated[Select[Any], Depends(_call_log_query)]


@router.get("/calls")
async def call_log(
    session: SessionDep, lq: ListQueryDep, stmt: CallLogQuery
) -> PageOut[CallRecordOut]:
    """The call log, newest first by default. ``q`` searches caller/callee number and name.
    Filters: ``from``/``to``, ``outcome`` (repeatable), ``direction``, ``employee_id``,
    ``extension``.

    Company owners and admins see every call of the company; an employee sees the calls
    they made or received.
    """
    page = await paginate(
        session,
        stmt,
        lq,
        sortable={
            "started_at": CallRecord.started_at,
            "talk_seconds": CallRecord.talk_seconds,
            "outcome": CallRecord.outcome,
        },
        searchable=[CallRecord.caller, CallRecord.callee, CallRecord.caller_name],
        default_sort="-started_at",
        tiebreak=CallRecord.id,
    )
    return PageOut[CallRecordOut](
        items=[CallRecordOut.model_validate(r) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


CSV_COLUMNS = (
    "started_at",
    "direction",
    "caller",
    "caller_name",
    "callee",
    "outcome",
    "ring_seconds",
    "talk_seconds",
    "answered_at",
    "ended_at",
    "end_reason",
    "id",
)


async def _export_rows(session: SessionDep, stmt: Select[Any], q: str | None) -> list[Any]:
    """The filtered call log for an export (``q`` as in the list), newest first."""
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(CallRecord.caller).like(pattern),
                func.lower(CallRecord.callee).like(pattern),
                func.lower(CallRecord.caller_name).like(pattern),
            )
        )
    stmt = stmt.order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).limit(EXPORT_LIMIT)
    return list((await session.scalars(stmt)).all())


EXPORT_LIMIT = 100_000


@router.get("/calls/export.csv", response_class=Response)
async def call_log_csv(
    session: SessionDep, stmt: CallLogQuery, q: Annotated[str | None, Query()] = None
) -> Response:
    """The filtered call log as CSV (UTF-8 with BOM for spreadsheets), newest first."""
    return csv_response(await _export_rows(session, stmt, q), CSV_COLUMNS, "calls.csv")


@router.get("/calls/export.xlsx", response_class=Response)
async def call_log_xlsx(
    session: SessionDep, stmt: CallLogQuery, q: Annotated[str | None, Query()] = None
) -> Response:
    """The filtered call log as an Excel workbook (times in UTC), newest first."""
    rows = await _export_rows(session, stmt, q)
    return await xlsx_response(rows, CSV_COLUMNS, "calls.xlsx", "Calls")


@router.get("/calls/{record_id}")
async def call_record(record_id: str, actor: CurrentActor, session: SessionDep) -> CallRecordOut:
    record = await session.get(CallRecord, record_id)
    if record is not None and not actor.can_manage_tenant:
        own = (
            (await session.execute(select(Employee.id).where(Employee.user_id == actor.user_id)))
            .scalars()
            .all()
        )
        if record.caller_employee_id not in own and record.callee_employee_id not in own:
            record = None
    if record is None or (not actor.is_operator and record.tenant_id != actor.tenant_id):
        raise NotFound(f"call {record_id} not found")
    return CallRecordOut.model_validate(record)
