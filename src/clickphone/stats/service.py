"""Call statistics: summary tables kept up to date as calls end, and the queries over them.

:class:`StatsAggregator` consumes the ``call.record`` outbox event (published after the
record's final state is committed, at least once) and, in one transaction per event, marks
the record as counted (``call_stats_applied``; a re-delivery is skipped) and adds it to:

* ``call_stats_hourly`` (tenant, hour, direction, outcome): calls, ring and talk seconds —
  calls per hour/day, by direction, missed-call rate, average wait and talk time;
* ``call_stats_employee_daily`` (tenant, day, employee, direction, outcome) — by employee and
  (through the employee's department) by department;
* ``call_stats_number_monthly`` (tenant, month, external number) — top external numbers;
* ``call_stats_concurrency`` (tenant, minute): calls in progress during each minute — load.

Every statistics query reads only these tables, so its cost depends on the period and the
number of employees, not on the number of calls. Buckets are UTC; ``tz_hours`` shifts whole
hours for per-day figures from the hourly table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import (
    CallRecord,
    CallStatsApplied,
    CallStatsConcurrency,
    CallStatsEmployeeDaily,
    CallStatsHourly,
    CallStatsNumberMonthly,
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


async def _upsert(
    session: AsyncSession, table: Table, keys: dict[str, Any], adds: dict[str, Any]
) -> None:
    dialect = session.get_bind().dialect.name
    ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = ins.values(**keys, **adds)
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
        await _upsert(
            session,
            CallStatsEmployeeDaily.__table__,  # type: ignore[arg-type]
            {
                "tenant_id": t,
                "day": start // 86400,
                "employee_id": emp,
                "direction": record.direction,
                "outcome": record.outcome,
            },
            sums,
        )
    number = external_number(record)
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
    for minute in range(first, min(last, first + MAX_CALL_MINUTES) + 1):
        await _upsert(
            session,
            CallStatsConcurrency.__table__,  # type: ignore[arg-type]
            {"tenant_id": t, "minute": minute},
            {"calls": 1},
        )
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
