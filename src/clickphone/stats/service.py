"""Call statistics: summary tables kept up to date as calls end, and the queries over them.

:class:`StatsAggregator` consumes the ``call.record`` outbox event (published after the
record's final state is committed, at least once) and, in one transaction per event, marks
the record as counted (``call_stats_applied``; a re-delivery is skipped) and adds it to:

* ``call_stats_hourly`` (tenant, hour, direction, outcome): calls, ring and talk seconds —
  calls per hour/day, by direction, missed-call rate, average wait and talk time;
* ``call_stats_employee_daily`` (tenant, day, employee, direction, outcome) — by employee and
  (through the employee's department) by department;
* ``call_stats_number_monthly`` (tenant, month, external number) — top external numbers;
* ``call_stats_concurrency`` (tenant, minute): calls in progress during each minute — load;
* coarser rollups for long periods: ``call_stats_employee_monthly`` (the daily employee table
  summed per calendar month) and ``call_stats_concurrency_hourly`` (the busiest minute of
  each hour);
* ``call_stats_country_daily`` (the external party's country: the callee's for outgoing
  calls, the caller's for incoming, from the E.164 number) and ``call_stats_line_daily``
  (``CallRecord.line``: the virtual number or trunk the call used).

Every statistics query reads only these tables, so its cost depends on the period and the
number of employees, not on the number of calls. Buckets are UTC; ``tz_hours`` shifts whole
hours for per-day figures from the hourly table.

The query planner (:func:`employee_source`, :func:`load_points`, :func:`top_numbers`)
answers long periods from the coarse tables for the whole months (hours) inside the period
plus the fine tables for the partial months (hours) at its edges; with ``coarse=False`` it
reads the fine tables only. Both plans give the same figures (tests/stats).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import (
    Integer,
    Table,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import (
    CallRecord,
    CallStatsApplied,
    CallStatsConcurrency,
    CallStatsConcurrencyHourly,
    CallStatsCountryDaily,
    CallStatsEmployeeDaily,
    CallStatsEmployeeMonthly,
    CallStatsHourly,
    CallStatsLineDaily,
    CallStatsNumberMonthly,
    Department,
    Employee,
    PhoneNumber,
    Recording,
)
from clickphone.db.session import Database

log = logging.getLogger("clickphone.stats")

MAX_CALL_MINUTES = 24 * 60  # a longer call counts in its first day of minutes only


def epoch(dt: datetime) -> int:
    return int(dt.astimezone(UTC).timestamp())


def month_of(dt: datetime) -> int:
    dt = dt.astimezone(UTC)
    return dt.year * 100 + dt.month


def external_number(record: CallRecord) -> str | None:
    if record.direction == "incoming":
        return record.caller
    if record.direction == "outgoing":
        return record.callee
    return None


@functools.lru_cache(maxsize=4096)
def country_of(number: str) -> str:
    """ISO 3166 alpha-2 country of an E.164 number ("+..."), "" when unknown."""
    if not number.startswith("+"):
        return ""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return ""
    return region if region and len(region) == 2 and region.isalpha() else ""


def line_of(record: CallRecord) -> str:
    """The line of a call for statistics: the record's ``line``; for older incoming records
    without one, the E.164 number dialled."""
    if record.line:
        return record.line
    if record.direction == "incoming" and record.callee.startswith("+"):
        return record.callee
    return ""


def _insert(session: AsyncSession, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _upsert(
    session: AsyncSession,
    table: Table,
    keys: dict[str, Any],
    adds: dict[str, Any],
    rows: list[dict[str, Any]] | None = None,
) -> None:
    """Insert ``keys`` + ``adds`` or add ``adds`` to the existing row; ``rows`` upserts many
    rows (same columns) in one statement."""
    stmt = _insert(session, table).values(rows if rows is not None else [{**keys, **adds}])
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={col: table.c[col] + stmt.excluded[col] for col in adds},
    )
    await session.execute(stmt)


async def add_record(session: AsyncSession, record: CallRecord) -> bool:
    """Count one finished call in the summaries; False if it was counted already."""
    if await session.get(CallStatsApplied, record.id) is not None:
        return False
    session.add(CallStatsApplied(record_id=record.id))
    await session.flush()
    start = epoch(record.started_at)
    t = record.tenant_id
    sums = {"calls": 1, "ring_seconds": record.ring_seconds, "talk_seconds": record.talk_seconds}
    await _upsert(
        session,
        CallStatsHourly.__table__,  # type: ignore[arg-type]
        {
            "tenant_id": t,
            "hour": start // 3600,
            "direction": record.direction,
            "outcome": record.outcome,
        },
        sums,
    )
    employees = {e for e in (record.caller_employee_id, record.callee_employee_id) if e}
    for emp in sorted(employees):
        for table, bucket in (
            (CallStatsEmployeeDaily, {"day": start // 86400}),
            (CallStatsEmployeeMonthly, {"month": month_of(record.started_at)}),
        ):
            await _upsert(
                session,
                table.__table__,  # type: ignore[arg-type]
                {
                    "tenant_id": t,
                    **bucket,
                    "employee_id": emp,
                    "direction": record.direction,
                    "outcome": record.outcome,
                },
                sums,
            )
    number = external_number(record)
    by_dim: list[tuple[Any, str, str]] = [(CallStatsLineDaily, "line", line_of(record))]
    if number is not None:
        by_dim.append((CallStatsCountryDaily, "country", country_of(number)))
    for table, column, value in by_dim:
        await _upsert(
            session,
            table.__table__,
            {
                "tenant_id": t,
                "day": start // 86400,
                column: value,
                "direction": record.direction,
                "outcome": record.outcome,
            },
            sums,
        )
    if number:
        await _upsert(
            session,
            CallStatsNumberMonthly.__table__,  # type: ignore[arg-type]
            {"tenant_id": t, "month": month_of(record.started_at), "number": number},
            {
                "calls": 1,
                "answered": int(record.outcome == "answered"),
                "talk_seconds": record.talk_seconds,
            },
        )
    end = epoch(record.ended_at) if record.ended_at is not None else start
    first, last = start // 60, max(start, end) // 60
    last = min(last, first + MAX_CALL_MINUTES)
    minutes = CallStatsConcurrency.__table__
    await _upsert(
        session,
        minutes,  # type: ignore[arg-type]
        {"tenant_id": t, "minute": first},
        {"calls": 1},
        rows=[{"tenant_id": t, "minute": m, "calls": 1} for m in range(first, last + 1)],
    )
    # the hours' peaks, from the minutes just counted (minute counts only grow)
    hours: Any = CallStatsConcurrencyHourly.__table__
    mc: Any = minutes.c
    hour = mc.minute // literal_column("60")
    peaks = (
        select(mc.tenant_id, hour.label("hour"), func.max(mc.calls))
        .where(mc.tenant_id == t, mc.minute >= first, mc.minute <= last)
        .group_by(mc.tenant_id, hour)
    )
    stmt = _insert(session, hours).from_select(["tenant_id", "hour", "peak"], peaks)
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "hour"],
        set_={"peak": greatest(hours.c.peak, stmt.excluded.peak)},
    )
    await session.execute(stmt)
    return True


class StatsAggregator:
    """Follows ``call.record`` events and keeps the summaries current."""

    def __init__(self, database: Database, bus: EventBus) -> None:
        self.database = database
        self.bus = bus
        self._unsubscribe: Callable[[], None] | None = None

    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe("call.record", self.on_record)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def on_record(self, event: Event) -> None:
        record_id = str(event.payload.get("id", ""))
        if record_id:
            await self.apply(record_id)

    async def apply(self, record_id: str) -> bool:
        async with self.database.transaction() as session:
            record = await session.scalar(select(CallRecord).where(CallRecord.id == record_id))
            if record is None or record.outcome == "in_progress":
                return False
            return await add_record(session, record)


# -- queries and the planner ----------------------------------------------------------------
@dataclass
class StatsQuery:
    """A company's statistics period: ``[start, end)`` UTC, optionally one direction."""

    tenant_id: int
    start: datetime
    end: datetime
    direction: str | None = None

    def seconds(self) -> tuple[int, int]:
        return epoch(self.start), epoch(self.end)

    def days(self) -> tuple[int, int]:
        """Whole UTC days touched by the period (the daily tables' range)."""
        start, end = self.seconds()
        return start // 86400, -(-end // 86400)


def aggregates(table: Any) -> list[Any]:
    """calls, answered, missed, busy, failed, cancelled, ring, talk over a summary table (or a
    subquery's columns) with ``outcome``, ``calls``, ``ring_seconds`` and ``talk_seconds``."""

    def count(outcome: str) -> Any:
        return func.sum(case((table.outcome == outcome, table.calls), else_=0))

    return [
        func.sum(table.calls),
        count("answered"),
        count("missed"),
        count("busy"),
        count("failed"),
        count("cancelled"),
        func.sum(table.ring_seconds),
        func.sum(table.talk_seconds),
    ]


EPOCH_DAY0 = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - EPOCH_DAY0).days


def _yyyymm(d: date) -> int:
    return d.year * 100 + d.month


def split_days(d0: int, d1: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Split the days ``[d0, d1)`` into the calendar months wholly inside (first and last
    yyyymm, or None) and the day ranges left at the edges."""
    if d0 >= d1:
        return [], None
    first = EPOCH_DAY0 + timedelta(days=d0)
    if first.day != 1:
        first = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    stop = (EPOCH_DAY0 + timedelta(days=d1)).replace(day=1)  # months before it end by d1
    if first >= stop:
        return [(d0, d1)], None
    last = stop - timedelta(days=1)
    edges = [(a, b) for a, b in ((d0, _day(first)), (_day(stop), d1)) if a < b]
    return edges, (_yyyymm(first), _yyyymm(last))


def employee_source(q: StatsQuery, *, coarse: bool = True) -> Any:
    """Per-employee sums for the period as one subquery (employee_id, direction, outcome,
    calls, ring_seconds, talk_seconds): whole months from the monthly rollup, the rest from
    the daily table."""
    d, m = CallStatsEmployeeDaily, CallStatsEmployeeMonthly
    d0, d1 = q.days()
    edges, months = split_days(d0, d1) if coarse else ([(d0, d1)], None)

    def part(table: Any, *where: Any) -> Any:
        stmt = select(
            table.employee_id,
            table.direction,
            table.outcome,
            table.calls,
            table.ring_seconds,
            table.talk_seconds,
        ).where(table.tenant_id == q.tenant_id, *where)
        if q.direction is not None:
            stmt = stmt.where(table.direction == q.direction)
        return stmt

    parts: list[Any] = [part(d, d.day >= a, d.day < b) for a, b in edges]
    if months is not None:
        parts.append(part(m, m.month >= months[0], m.month <= months[1]))
    if not parts:
        parts.append(part(d, false()))
    source: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    return source.subquery()


async def employee_rows(
    session: AsyncSession, q: StatsQuery, *, coarse: bool = True
) -> list[tuple[Any, ...]]:
    """(employee id, 8 aggregates) per employee, most calls first."""
    src = employee_source(q, coarse=coarse)
    stmt = (
        select(src.c.employee_id, *aggregates(src.c))
        .group_by(src.c.employee_id)
        .order_by(func.sum(src.c.calls).desc(), src.c.employee_id)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]


async def department_rows(
    session: AsyncSession, q: StatsQuery, *, coarse: bool = True
) -> list[tuple[Any, ...]]:
    """(department id, name, 8 aggregates) per current department of the employees."""
    src = employee_source(q, coarse=coarse)
    stmt = (
        select(Employee.department_id, Department.name, *aggregates(src.c))
        .select_from(src)
        .join(Employee, Employee.id == src.c.employee_id)
        .outerjoin(Department, Department.id == Employee.department_id)
        .group_by(Employee.department_id, Department.name)
        .order_by(func.sum(src.c.calls).desc(), Department.name)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]


LOAD_STEPS = {"minute": 1, "hour": 60, "day": 1440}


async def load_points(
    session: AsyncSession, q: StatsQuery, step: str, *, coarse: bool = True
) -> list[tuple[int, int]]:
    """(bucket start in epoch seconds, busiest minute's calls) per step: whole hours from the
    hourly peaks, the minutes at the edges from the per-minute table."""
    size = LOAD_STEPS[step]
    start, end = q.seconds()
    m0, m1 = start // 60, -(-end // 60)
    h0, h1 = -(-m0 // 60), m1 // 60
    minute_ranges = [(m0, m1)]
    hour_range: tuple[int, int] | None = None
    if coarse and size >= 60 and h0 < h1:
        minute_ranges = [(a, b) for a, b in ((m0, h0 * 60), (h1 * 60, m1)) if a < b]
        hour_range = (h0, h1)
    peaks: dict[int, int] = {}

    def keep(rows: Sequence[Any]) -> None:
        for bucket, peak in rows:
            b = int(bucket)
            peaks[b] = max(peaks.get(b, 0), int(peak))

    c = CallStatsConcurrency
    for a, b in minute_ranges:
        bucket = func.floor(c.minute / size) if size > 1 else c.minute
        stmt = (
            select(bucket.label("b"), func.max(c.calls))
            .where(c.tenant_id == q.tenant_id, c.minute >= a, c.minute < b)
            .group_by("b")
        )
        keep((await session.execute(stmt)).all())
    if hour_range is not None:
        h = CallStatsConcurrencyHourly
        per = size // 60
        bucket = func.floor(h.hour / per) if per > 1 else h.hour
        stmt = (
            select(bucket.label("b"), func.max(h.peak))
            .where(h.tenant_id == q.tenant_id, h.hour >= hour_range[0], h.hour < hour_range[1])
            .group_by("b")
        )
        keep((await session.execute(stmt)).all())
    return [(b * size * 60, peaks[b]) for b in sorted(peaks)]


def period_months(q: StatsQuery) -> tuple[int, int]:
    """First and last calendar month (yyyymm) touched by the period."""
    return month_of(q.start), month_of(q.end - timedelta(microseconds=1))


def _months_between(first: int, last: int) -> list[int]:
    out, y, m = [], first // 100, first % 100
    while y * 100 + m <= last:
        out.append(y * 100 + m)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


TOP_CANDIDATES = 100  # numbers taken from each month's ranking before exact totals


async def top_numbers(
    session: AsyncSession,
    q: StatsQuery,
    limit: int,
    *,
    coarse: bool = True,
    candidates: int = TOP_CANDIDATES,
) -> list[tuple[str, int, int, float]]:
    """External numbers with the most calls over whole calendar months: (number, calls,
    answered, talk seconds), most calls first, then by number.

    Coarse plan (exact, threshold algorithm): read the ``candidates`` top numbers of each
    month from the ranking index, sum those numbers over the period, and accept the result
    when the ``limit``-th total beats the most any other number can have (the sum of each
    month's ``candidates``-th count); otherwise retry with more candidates, and at last sum
    every number (the fine plan)."""
    n = CallStatsNumberMonthly
    first, last = period_months(q)
    t = q.tenant_id

    def totals(*where: Any) -> Any:
        # values inline (literal_execute): PostgreSQL's generic plan for this prepared
        # statement (used after five runs) is 5-40x slower than the custom one
        def lit(name: str, value: int) -> Any:
            return bindparam(name, value, literal_execute=True)

        return (
            select(n.number, func.sum(n.calls), func.sum(n.answered), func.sum(n.talk_seconds))
            .where(
                n.tenant_id == lit("t", t),
                n.month >= lit("first", first),
                n.month <= lit("last", last),
                *where,
            )
            .group_by(n.number)
            .order_by(func.sum(n.calls).desc(), n.number)
        )

    def rows(result: Sequence[Any]) -> list[tuple[str, int, int, float]]:
        return [(r[0], int(r[1]), int(r[2]), float(r[3])) for r in result]

    months = _months_between(first, last)
    k = candidates
    while coarse and k <= 64 * candidates:
        names: set[str] = set()
        bound = 0
        for month in months:
            ranked = (
                await session.execute(
                    select(n.number, n.calls)
                    .where(n.tenant_id == t, n.month == month)
                    .order_by(n.calls.desc())
                    .limit(k)
                )
            ).all()
            names.update(r[0] for r in ranked)
            if len(ranked) == k:
                bound += int(ranked[-1][1])
        # month = ANY(...) AND number = ANY(...): index lookups on the primary key, where a
        # month range would scan every number of every month
        chosen: Any = bindparam("chosen", sorted(names), expanding=True, literal_execute=True)
        each: Any = bindparam("each", months, expanding=True, literal_execute=True)
        stmt = totals(n.month.in_(each), n.number.in_(chosen))
        found = rows((await session.execute(stmt)).all()) if names else []
        if bound == 0 or (len(found) >= limit and found[limit - 1][1] > bound):
            return found[:limit]
        k *= 4
    return rows((await session.execute(totals().limit(limit))).all())


async def dimension_rows(
    session: AsyncSession, q: StatsQuery, dimension: str
) -> list[tuple[Any, ...]]:
    """(country or line, 8 aggregates) over the period's whole days, most calls first."""
    table: Any = CallStatsCountryDaily if dimension == "country" else CallStatsLineDaily
    key = getattr(table, dimension)
    d0, d1 = q.days()
    stmt = select(key, *aggregates(table)).where(
        table.tenant_id == q.tenant_id, table.day >= d0, table.day < d1
    )
    if q.direction is not None:
        stmt = stmt.where(table.direction == q.direction)
    stmt = stmt.group_by(key).order_by(func.sum(table.calls).desc(), key)
    return [tuple(r) for r in (await session.execute(stmt)).all()]


# -- service report ---------------------------------------------------------------------------
def _day_of(column: Any, dialect: str) -> Any:
    """The UTC epoch day of a UTCDateTime column, in SQL."""
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", column) / 86400)
    return func.cast(func.strftime("%s", column), Integer) / 86400


def bucket_of_day(day: int, step: str) -> date:
    """The period (``day`` or ``month``) an epoch day belongs to, as its first date."""
    d = EPOCH_DAY0 + timedelta(days=day)
    return d if step == "day" else d.replace(day=1)


@dataclass
class ServiceCalls:
    calls: int = 0
    answered: int = 0
    missed: int = 0
    talk_seconds: float = 0.0


@dataclass
class ServicePeriod:
    period: date
    calls: dict[str, ServiceCalls]  # by direction
    recordings: int = 0
    recording_bytes: int = 0


async def service_periods(session: AsyncSession, q: StatsQuery, step: str) -> list[ServicePeriod]:
    """Per day or calendar month (UTC) of the period: calls by direction (from the hourly
    summary, whole hours) with answered, missed and talk time, and the recordings made
    (count and bytes, by start time)."""
    h = CallStatsHourly
    start, end = q.seconds()
    day = func.floor(h.hour / 24)
    stmt = (
        select(
            day.label("d"),
            h.direction,
            func.sum(h.calls),
            func.sum(case((h.outcome == "answered", h.calls), else_=0)),
            func.sum(case((h.outcome == "missed", h.calls), else_=0)),
            func.sum(h.talk_seconds),
        )
        .where(h.tenant_id == q.tenant_id, h.hour >= start // 3600, h.hour < -(-end // 3600))
        .group_by("d", h.direction)
    )
    if q.direction is not None:
        stmt = stmt.where(h.direction == q.direction)
    periods: dict[date, ServicePeriod] = {}

    def period(d: int) -> ServicePeriod:
        key = bucket_of_day(d, step)
        if key not in periods:
            periods[key] = ServicePeriod(key, {})
        return periods[key]

    for d, direction, calls, answered, missed, talk in (await session.execute(stmt)).all():
        sc = period(int(d)).calls.setdefault(direction, ServiceCalls())
        sc.calls += int(calls or 0)
        sc.answered += int(answered or 0)
        sc.missed += int(missed or 0)
        sc.talk_seconds += float(talk or 0.0)
    r = Recording
    rday = _day_of(r.started_at, session.get_bind().dialect.name).label("d")
    rstmt = (
        select(rday, func.count(), func.coalesce(func.sum(r.size_bytes), 0))
        .where(
            r.tenant_id == q.tenant_id,
            r.state.in_(("ready", "uploading")),
            r.started_at >= q.start,
            r.started_at < q.end,
        )
        .group_by("d")
    )
    for d, count, size in (await session.execute(rstmt)).all():
        p = period(int(d))
        p.recordings += int(count)
        p.recording_bytes += int(size)
    return [periods[k] for k in sorted(periods)]


async def numbers_held(session: AsyncSession, tenant_id: int) -> list[tuple[str, str, int, int]]:
    """The company's numbers now: (number type, currency, count, monthly fees)."""
    n = PhoneNumber
    stmt = (
        select(n.number_type, n.currency, func.count(), func.coalesce(func.sum(n.monthly_fee), 0))
        .where(n.tenant_id == tenant_id, n.state == "assigned")
        .group_by(n.number_type, n.currency)
        .order_by(n.number_type, n.currency)
    )
    return [(t, c, int(k), int(f)) for t, c, k, f in (await session.execute(stmt)).all()]


async def recordings_stored(session: AsyncSession, tenant_id: int) -> tuple[int, int]:
    """Recordings kept now (ready), and their bytes."""
    count, size = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Recording.size_bytes), 0)).where(
                Recording.tenant_id == tenant_id, Recording.state.in_(("ready", "uploading"))
            )
        )
    ).one()
    return int(count), int(size)
