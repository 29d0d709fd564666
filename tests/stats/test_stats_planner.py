"""The statistics planner on SQLite and PostgreSQL: long periods answered from the coarse
rollups (monthly per employee, hourly concurrency peaks, per-month number rankings) plus the
fine tables at the edges give exactly the figures of the fine tables alone, on generated
calls; and the rollups are kept up to date as calls end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from clickphone.db import Database
from clickphone.db.models import (
    CallRecord,
    CallStatsConcurrency,
    CallStatsConcurrencyHourly,
    CallStatsEmployeeDaily,
    CallStatsEmployeeMonthly,
    Department,
    Employee,
    Tenant,
    User,
)
from clickphone.stats.service import (
    StatsQuery,
    add_record,
    department_rows,
    employee_rows,
    load_points,
    split_days,
    top_numbers,
)

T0 = datetime(2026, 1, 20, tzinfo=UTC)
DIRECTIONS = ("incoming", "outgoing", "internal")
OUTCOMES = ("answered", "answered", "answered", "missed", "busy", "cancelled", "failed")


async def _generate(database: Database, seed: int, calls: int) -> tuple[int, list[CallRecord]]:
    """A company with 3 departments and 6 employees, and ``calls`` finished calls over
    ~100 days from T0 (several month boundaries), counted in the summaries as they end."""
    rnd = random.Random(seed)
    async with database.transaction() as s:
        tenant = Tenant(name=f"Plan Co {seed}", customer_number=f"PLAN{seed}")
        s.add(tenant)
        await s.flush()
        deps = [Department(tenant_id=tenant.id, name=f"Dep {i}") for i in range(3)]
        s.add_all(deps)
        await s.flush()
        emps = []
        for i in range(6):
            user = User(
                tenant_id=tenant.id,
                email=f"p{seed}-{i}@plan.example.com",
                password_hash="!",
                full_name=f"Emp {i}",
                role="employee",
            )
            s.add(user)
            await s.flush()
            emp = Employee(
                tenant_id=tenant.id,
                user_id=user.id,
                extension=f"{seed}{i}",
                department_id=deps[i % 3].id if i < 5 else None,
            )
            s.add(emp)
            emps.append(emp)
        await s.flush()
        # a skewed pool of external numbers, so rankings have clear leaders and long tails
        pool = [f"+7495{n:07d}" for n in range(60)]
        records = []
        for i in range(calls):
            start = T0 + timedelta(seconds=rnd.randrange(100 * 86400))
            direction = rnd.choice(DIRECTIONS)
            outcome = rnd.choice(OUTCOMES)
            ring = rnd.randrange(0, 120) / 4
            talk = rnd.randrange(4, 2400) / 4 if outcome == "answered" else 0.0
            a, b = rnd.sample(emps, 2)
            external = pool[min(int(rnd.random() ** 3 * len(pool)), len(pool) - 1)]
            rec = CallRecord(
                id=f"{seed:04d}{i:028d}",
                tenant_id=tenant.id,
                sip_call_id=f"plan-{seed}-{i}",
                direction=direction,
                caller=external if direction == "incoming" else a.extension,
                caller_employee_id=None if direction == "incoming" else a.id,
                callee=external if direction == "outgoing" else b.extension,
                callee_employee_id=None if direction == "outgoing" else b.id,
                started_at=start,
                answered_at=start + timedelta(seconds=ring) if outcome == "answered" else None,
                ended_at=start + timedelta(seconds=ring + talk),
                ring_seconds=ring,
                talk_seconds=talk,
                outcome=outcome,
            )
            s.add(rec)
            records.append(rec)
        await s.flush()
        for rec in records:
            assert await add_record(s, rec)
        return tenant.id, records


def _periods(rnd: random.Random) -> list[tuple[datetime, datetime]]:
    fixed = [
        (T0, T0 + timedelta(days=100)),  # the whole range: whole months inside
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),  # months only
        (datetime(2026, 2, 3, 5, 17, tzinfo=UTC), datetime(2026, 4, 20, 13, 42, tzinfo=UTC)),
        (datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 2, 20, tzinfo=UTC)),  # no month
    ]
    for _ in range(4):
        a = T0 + timedelta(seconds=rnd.randrange(90 * 86400))
        fixed.append((a, a + timedelta(seconds=rnd.randrange(3600, 95 * 86400))))
    return fixed


async def test_mixed_plans_equal_fine_plans(database: Database) -> None:
    tenant_id, records = await _generate(database, 7, 500)
    rnd = random.Random(11)
    async with database.session() as s:
        # the rollups hold the fine tables' sums
        for table in (CallStatsEmployeeDaily, CallStatsEmployeeMonthly):
            total = await s.scalar(
                select(func.sum(table.calls)).where(table.tenant_id == tenant_id)
            )
            assert total == sum(
                len({r.caller_employee_id, r.callee_employee_id} - {None}) for r in records
            )
        fine_peak = await s.scalar(
            select(func.max(CallStatsConcurrency.calls)).where(
                CallStatsConcurrency.tenant_id == tenant_id
            )
        )
        hourly_peak = await s.scalar(
            select(func.max(CallStatsConcurrencyHourly.peak)).where(
                CallStatsConcurrencyHourly.tenant_id == tenant_id
            )
        )
        assert fine_peak == hourly_peak and fine_peak >= 1

        used_months = 0
        for start, end in _periods(rnd):
            for direction in (None, "incoming"):
                q = StatsQuery(tenant_id, start, end, direction)
                _, months = split_days(*q.days())
                used_months += months is not None
                fine = await employee_rows(s, q, coarse=False)
                assert await employee_rows(s, q) == fine, (start, end, direction)
                assert await department_rows(s, q) == await department_rows(s, q, coarse=False)
                # by hand from the generated calls: every employee's calls in whole UTC days
                d0, d1 = q.days()
                expect: dict[int, int] = {}
                for r in records:
                    day = int(r.started_at.timestamp()) // 86400
                    if d0 <= day < d1 and direction in (None, r.direction):
                        for e in {r.caller_employee_id, r.callee_employee_id} - {None}:
                            assert e is not None
                            expect[e] = expect.get(e, 0) + 1
                assert {row[0]: int(row[1]) for row in fine} == expect
            q = StatsQuery(tenant_id, start, end)
            for step in ("hour", "day"):
                if step == "hour" and end - start > timedelta(days=31):
                    continue
                assert await load_points(s, q, step) == await load_points(
                    s, q, step, coarse=False
                ), (start, end, step)
            fine_top = await top_numbers(s, q, 10, coarse=False)
            assert len(fine_top) == 10
            for candidates in (1, 3, 100):  # retried with more candidates / at once
                assert await top_numbers(s, q, 10, candidates=candidates) == fine_top
        assert used_months >= 6  # most periods did use the monthly rollup


def test_split_days() -> None:
    def day(y: int, m: int, d: int) -> int:
        return int(datetime(y, m, d, tzinfo=UTC).timestamp()) // 86400

    assert split_days(day(2026, 1, 20), day(2026, 4, 30)) == (
        [(day(2026, 1, 20), day(2026, 2, 1)), (day(2026, 4, 1), day(2026, 4, 30))],
        (202602, 202603),
    )
    assert split_days(day(2025, 12, 1), day(2026, 1, 1)) == ([], (202512, 202512))
    assert split_days(day(2026, 2, 2), day(2026, 2, 28)) == (
        [(day(2026, 2, 2), day(2026, 2, 28))],
        None,
    )
    assert split_days(5, 5) == ([], None)
