"""/api/v1/stats: call statistics of a company, read from the summary tables.

Every route takes ``from``/``to`` (UTC datetimes, ``to`` exclusive; default the last 30
days) and answers for the actor's company (operator staff name ``tenant_id``). Company owners
and admins only. The router's lifespan starts the :class:`StatsAggregator`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from sqlalchemy import func, select, text

from clickphone.accounts.errors import ValidationFailed
from clickphone.accounts.scope import Actor
from clickphone.api.deps import CurrentActor, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.db.models import CallStatsHourly, Employee, User
from clickphone.stats.service import (
    ServiceCalls,
    ServicePeriod,
    StatsAggregator,
    StatsQuery,
    aggregates,
    department_rows,
    dimension_rows,
    employee_rows,
    epoch,
    load_points,
    numbers_held,
    recordings_stored,
    service_periods,
)
from clickphone.stats.service import (
    top_numbers as plan_top_numbers,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    aggregator = StatsAggregator(services.database, services.bus)
    services.extra["stats"] = aggregator
    await aggregator.start()
    try:
        yield
    finally:
        await aggregator.stop()


async def custom_plans(session: SessionDep) -> None:
    """PostgreSQL plans each statistics query for its own period: after five runs of a
    prepared statement it would switch to a generic plan, 3-40x slower on these tables."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


router = APIRouter(
    prefix="/stats",
    responses=ERROR_RESPONSES,
    tags=["stats"],
    lifespan=lifespan,
    dependencies=[Depends(custom_plans)],
)

Direction = Literal["internal", "incoming", "outgoing"]


class Period:
    def __init__(
        self,
        actor: CurrentActor,
        date_from: Annotated[datetime | None, Query(alias="from")] = None,
        date_to: Annotated[datetime | None, Query(alias="to")] = None,
        tenant_id: Annotated[int | None, Query()] = None,
        direction: Annotated[Direction | None, Query()] = None,
    ) -> None:
        actor.require_manager()
        self.tenant_id = actor.tenant_for_create(tenant_id)
        now = datetime.now(UTC)
        self.end = date_to or now
        self.start = date_from or (self.end - timedelta(days=30))
        if self.start.tzinfo is None:
            self.start = self.start.replace(tzinfo=UTC)
        if self.end.tzinfo is None:
            self.end = self.end.replace(tzinfo=UTC)
        self.direction = direction
        self.actor: Actor = actor

    def seconds(self) -> tuple[int, int]:
        return epoch(self.start), epoch(self.end)

    def query(self) -> StatsQuery:
        return StatsQuery(self.tenant_id, self.start, self.end, self.direction)


PeriodDep = Annotated[Period, Depends(Period)]


MAX_SPAN = {"minute": timedelta(days=2), "hour": timedelta(days=31)}


def _limit_span(p: Period, step: str) -> None:
    span = MAX_SPAN.get(step)
    if span is not None and p.end - p.start > span:
        raise ValidationFailed({"step": f"{step} steps cover at most {span.days} days"})


class Totals(BaseModel):
    calls: int = 0
    answered: int = 0
    missed: int = 0
    busy: int = 0
    failed: int = 0
    cancelled: int = 0
    missed_rate: float = 0.0
    avg_ring_seconds: float = 0.0
    avg_talk_seconds: float = 0.0
    talk_seconds: float = 0.0


def _agg(table: Any) -> list[Any]:
    """Aggregate columns shared by the summary tables (same order as Totals' fields)."""
    return aggregates(table)


def _totals(row: Any) -> Totals:
    calls, answered, missed, busy, failed, cancelled, ring, talk = ((v or 0) for v in row[-8:])
    calls = int(calls)
    return Totals(
        calls=calls,
        answered=int(answered),
        missed=int(missed),
        busy=int(busy),
        failed=int(failed),
        cancelled=int(cancelled),
        missed_rate=round(missed / calls, 4) if calls else 0.0,
        avg_ring_seconds=round(float(ring) / calls, 2) if calls else 0.0,
        avg_talk_seconds=round(float(talk) / answered, 2) if answered else 0.0,
        talk_seconds=round(float(talk), 1),
    )


def _hourly(p: Period) -> Any:
    h = CallStatsHourly
    start, end = p.seconds()
    stmt = select().where(
        h.tenant_id == p.tenant_id, h.hour >= start // 3600, h.hour < -(-end // 3600)
    )
    if p.direction is not None:
        stmt = stmt.where(h.direction == p.direction)
    return stmt


@router.get("/summary")
async def summary(session: SessionDep, p: PeriodDep) -> Totals:
    """Totals of the period: calls by outcome, missed-call rate, average wait and talk."""
    row = (await session.execute(_hourly(p).add_columns(*_agg(CallStatsHourly)))).one()
    return _totals(row)


class SeriesPoint(Totals):
    bucket: datetime


@router.get("/calls")
async def calls_over_time(
    session: SessionDep,
    p: PeriodDep,
    step: Literal["hour", "day"] = "day",
    tz_hours: Annotated[int, Query(ge=-12, le=14)] = 0,
) -> list[SeriesPoint]:
    """Calls per hour or per day (days start at midnight ``tz_hours`` from UTC); hourly
    series cover at most 31 days."""
    _limit_span(p, step)
    h = CallStatsHourly
    size = 1 if step == "hour" else 24
    bucket = ((h.hour + tz_hours) / size) if size > 1 else h.hour
    bucket = func.floor(bucket) if size > 1 else bucket
    stmt = _hourly(p).add_columns(bucket.label("b"), *_agg(h)).group_by("b").order_by("b")
    out = []
    for row in (await session.execute(stmt)).all():
        seconds = int(row[0]) * size * 3600 - (tz_hours * 3600 if size > 1 else 0)
        out.append(
            SeriesPoint(bucket=datetime.fromtimestamp(seconds, UTC), **_totals(row).model_dump())
        )
    return out


class DirectionRow(Totals):
    direction: str


@router.get("/directions")
async def by_direction(session: SessionDep, p: PeriodDep) -> list[DirectionRow]:
    h = CallStatsHourly
    stmt = _hourly(p).add_columns(h.direction, *_agg(h)).group_by(h.direction)
    rows = (await session.execute(stmt)).all()
    return [DirectionRow(direction=r[0], **_totals(r).model_dump()) for r in rows]


class EmployeeRow(Totals):
    employee_id: int
    name: str
    extension: str | None
    department_id: int | None


@router.get("/employees")
async def by_employee(session: SessionDep, p: PeriodDep) -> list[EmployeeRow]:
    """Per employee (whole UTC days): calls made or received, by outcome, wait and talk."""
    rows = await employee_rows(session, p.query())
    ids = [r[0] for r in rows]
    people = {
        r[0]: r[1:]
        for r in (
            await session.execute(
                select(Employee.id, User.full_name, Employee.extension, Employee.department_id)
                .join(User, User.id == Employee.user_id)
                .where(Employee.id.in_(ids))
            )
        ).all()
    }
    return [
        EmployeeRow(
            employee_id=r[0],
            name=people[r[0]][0],
            extension=people[r[0]][1],
            department_id=people[r[0]][2],
            **_totals(r).model_dump(),
        )
        for r in rows
        if r[0] in people
    ]


class DepartmentRow(Totals):
    department_id: int | None
    name: str


@router.get("/departments")
async def by_department(session: SessionDep, p: PeriodDep) -> list[DepartmentRow]:
    """Per department of the employees (their current department)."""
    return [
        DepartmentRow(department_id=r[0], name=r[1] or "", **_totals(r).model_dump())
        for r in await department_rows(session, p.query())
    ]


class LoadPoint(BaseModel):
    bucket: datetime
    max_concurrent: int


@router.get("/load")
async def load(
    session: SessionDep,
    p: PeriodDep,
    step: Literal["minute", "hour", "day"] = "hour",
) -> list[LoadPoint]:
    """Calls in progress over time: the busiest minute of each step (minute steps cover at
    most 2 days, hour steps 31 days)."""
    _limit_span(p, step)
    return [
        LoadPoint(bucket=datetime.fromtimestamp(b, UTC), max_concurrent=peak)
        for b, peak in await load_points(session, p.query(), step)
    ]


class NumberRow(BaseModel):
    number: str
    calls: int
    answered: int
    talk_seconds: float


@router.get("/top-numbers")
async def top_numbers(
    session: SessionDep,
    p: PeriodDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[NumberRow]:
    """External numbers with the most calls (whole calendar months of the period)."""
    return [
        NumberRow(number=n, calls=c, answered=a, talk_seconds=t)
        for n, c, a, t in await plan_top_numbers(session, p.query(), limit)
    ]


class CountryRow(Totals):
    country: str  # ISO 3166 alpha-2, "" when the number is not E.164


@router.get("/countries")
async def by_country(session: SessionDep, p: PeriodDep) -> list[CountryRow]:
    """External calls by country (whole UTC days): the callee's country for outgoing calls,
    the caller's for incoming ones."""
    return [
        CountryRow(country=r[0], **_totals(r).model_dump())
        for r in await dimension_rows(session, p.query(), "country")
    ]


class LineRow(Totals):
    line: str  # the virtual number or "trunk:<name>"; "" when unknown (and internal calls)


@router.get("/lines")
async def by_line(session: SessionDep, p: PeriodDep) -> list[LineRow]:
    """Calls by line (whole UTC days): the virtual number or trunk they came in on or went
    out through."""
    return [
        LineRow(line=r[0], **_totals(r).model_dump())
        for r in await dimension_rows(session, p.query(), "line")
    ]


class ServiceCallsOut(BaseModel):
    calls: int = 0
    answered: int = 0
    missed: int = 0
    minutes: float = 0.0  # talk time


class ServicePeriodOut(BaseModel):
    period: date  # first day of the day or month (UTC)
    incoming: ServiceCallsOut
    outgoing: ServiceCallsOut
    internal: ServiceCallsOut
    calls: int
    minutes: float
    recordings: int  # recordings made in the period
    recording_bytes: int


class NumbersHeldOut(BaseModel):
    number_type: str
    currency: str
    count: int
    monthly_fee: int  # minor units


class ServiceReportOut(BaseModel):
    step: Literal["day", "month"]
    periods: list[ServicePeriodOut]
    totals: ServicePeriodOut
    numbers: list[NumbersHeldOut]  # held now
    recordings_stored: int  # kept now
    recordings_stored_bytes: int


def _calls_out(sc: ServiceCalls | None) -> ServiceCallsOut:
    if sc is None:
        return ServiceCallsOut()
    return ServiceCallsOut(
        calls=sc.calls,
        answered=sc.answered,
        missed=sc.missed,
        minutes=round(sc.talk_seconds / 60, 1),
    )


def _period_out(sp: ServicePeriod) -> ServicePeriodOut:
    by = {d: _calls_out(sp.calls.get(d)) for d in ("incoming", "outgoing", "internal")}
    return ServicePeriodOut(
        period=sp.period,
        **by,
        calls=sum(c.calls for c in sp.calls.values()),
        minutes=round(sum(c.talk_seconds for c in sp.calls.values()) / 60, 1),
        recordings=sp.recordings,
        recording_bytes=sp.recording_bytes,
    )


@router.get("/service-report")
async def service_report(
    session: SessionDep, p: PeriodDep, step: Literal["day", "month"] = "month"
) -> ServiceReportOut:
    """Services used per day or calendar month (UTC) of the period, with totals: calls by
    direction with answered/missed and minutes, recordings made; plus what the company holds
    now (numbers by type with their monthly fees, recordings kept and their size). Day steps
    cover at most 92 days."""
    if step == "day" and p.end - p.start > timedelta(days=92):
        raise ValidationFailed({"step": "day steps cover at most 92 days"})
    periods = await service_periods(session, p.query(), step)
    total = ServicePeriod(p.start.date(), {})
    for sp in periods:
        for direction, sc in sp.calls.items():
            t = total.calls.setdefault(direction, ServiceCalls())
            t.calls += sc.calls
            t.answered += sc.answered
            t.missed += sc.missed
            t.talk_seconds += sc.talk_seconds
        total.recordings += sp.recordings
        total.recording_bytes += sp.recording_bytes
    stored, stored_bytes = await recordings_stored(session, p.tenant_id)
    return ServiceReportOut(
        step=step,
        periods=[_period_out(sp) for sp in periods],
        totals=_period_out(total),
        numbers=[
            NumbersHeldOut(number_type=t, currency=c, count=k, monthly_fee=f)
            for t, c, k, f in await numbers_held(session, p.tenant_id)
        ],
        recordings_stored=stored,
        recordings_stored_bytes=stored_bytes,
    )
