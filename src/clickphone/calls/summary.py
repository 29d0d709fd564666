"""GET /api/v1/calls/summary: call totals of a period, and per department, from the call log.

Read straight from ``call_records`` (exact to the second, so "today" can start at the user's
local midnight), with the call log's filters and visibility: owners and admins count every
call of the company, an employee the calls they made or received. A call counts once for each
department of its employees (an internal call between Sales and Support counts for both,
between two Sales people once for Sales); calls with no employee count only in the totals.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import case, func, select, union

from clickphone.api.deps import SessionDep
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.calls.api import CallLogQuery
from clickphone.db.models import CallRecord, Department, Employee

router = APIRouter(responses=ERROR_RESPONSES, tags=["calls"])

OUTCOMES = ("answered", "missed", "busy", "failed", "cancelled", "in_progress")


class CallCounts(BaseModel):
    calls: int = 0
    answered: int = 0
    missed: int = 0
    busy: int = 0
    failed: int = 0
    cancelled: int = 0
    in_progress: int = 0
    talk_seconds: float = 0.0


class DepartmentCounts(CallCounts):
    department_id: int | None
    name: str


class CallSummaryOut(BaseModel):
    totals: CallCounts
    departments: list[DepartmentCounts]


def _aggregates(outcome: Any, talk: Any) -> list[Any]:
    cols: list[Any] = [func.count()]
    cols += [func.sum(case((outcome == o, 1), else_=0)) for o in OUTCOMES]
    cols.append(func.sum(talk))
    return cols


def _counts(row: Any) -> dict[str, Any]:
    values = list(row)[-(len(OUTCOMES) + 2) :]
    out: dict[str, Any] = {"calls": int(values[0] or 0)}
    for name, v in zip(OUTCOMES, values[1:-1], strict=True):
        out[name] = int(v or 0)
    out["talk_seconds"] = round(float(values[-1] or 0.0), 1)
    return out


@router.get("/calls/summary")
async def call_summary(session: SessionDep, stmt: CallLogQuery) -> CallSummaryOut:
    """Totals by outcome and talk time, and the same per department, for the call-log filters
    (``from``/``to``, ``direction``, ...), e.g. today's calls for the Status page."""
    cr = CallRecord
    base = stmt.with_only_columns(
        cr.id, cr.outcome, cr.talk_seconds, cr.caller_employee_id, cr.callee_employee_id
    ).subquery()
    totals = (
        await session.execute(select(*_aggregates(base.c.outcome, base.c.talk_seconds)))
    ).one()

    def by(column: Any) -> Any:
        return select(base.c.id, base.c.outcome, base.c.talk_seconds, Employee.department_id).join(
            Employee, Employee.id == column
        )

    per_call = union(by(base.c.caller_employee_id), by(base.c.callee_employee_id)).subquery()
    dept_stmt = (
        select(
            per_call.c.department_id,
            Department.name,
            *_aggregates(per_call.c.outcome, per_call.c.talk_seconds),
        )
        .outerjoin(Department, Department.id == per_call.c.department_id)
        .group_by(per_call.c.department_id, Department.name)
        .order_by(func.count().desc(), Department.name)
    )
    departments = [
        DepartmentCounts(department_id=r[0], name=r[1] or "", **_counts(r))
        for r in (await session.execute(dept_stmt)).all()
    ]
    return CallSummaryOut(totals=CallCounts(**_counts(totals)), departments=departments)
