"""Statistics over many call records in PostgreSQL: generate, summarise, measure p95.

1. Creates (drops first) the database ``--db`` (default ``clickphone_bench``) on the server of
   ``--pg`` and migrates it.
2. Loads one company with ``--employees`` employees in departments, and ``--rows`` call
   records spread over ``--days`` days (business-hours weighted, a mix of directions and
   outcomes, external numbers drawn from a skewed pool), generated server-side with
   ``generate_series`` (one ``INSERT ... SELECT`` per chunk of ``--chunk`` rows — faster than
   streaming COPY rows from Python on 2 cores), bounded by ``--max-seconds``.
3. Builds the summary tables the way the live aggregator fills them (one ``INSERT ...
   SELECT ... GROUP BY`` per table, coarse rollups from the fine tables, countries by
   ``country_of`` of each number prefix), then ``ANALYZE``.
4. Signs in as the company owner and calls every /api/v1/stats route through the ASGI app
   (HTTP routing, auth, SQL, JSON) ``--runs`` times for a 30-day and a 365-day period;
   prints p50/p95/max per route. ``--skip-load`` reuses the database of an earlier run
   (routes only).

    .venv/bin/python bench/cdr_stats.py --rows 10000000          # ~ minutes on 2 cores
    .venv/bin/python bench/cdr_stats.py --rows 200000 --runs 10  # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from clickphone.app import create_app
from clickphone.bus import EventBus
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.migrate import upgrade
from clickphone.stats.service import country_of

SUMMARIES = [
    """INSERT INTO call_stats_hourly
       SELECT tenant_id, floor(extract(epoch FROM started_at) / 3600)::int, direction, outcome,
              count(*), sum(ring_seconds), sum(talk_seconds)
       FROM call_records GROUP BY 1, 2, 3, 4""",
    """INSERT INTO call_stats_employee_daily
       SELECT tenant_id, day, eid, direction, outcome, count(*), sum(ring), sum(talk) FROM (
         SELECT tenant_id, floor(extract(epoch FROM started_at) / 86400)::int AS day,
                caller_employee_id AS eid, direction, outcome,
                ring_seconds AS ring, talk_seconds AS talk
         FROM call_records WHERE caller_employee_id IS NOT NULL
         UNION ALL
         SELECT tenant_id, floor(extract(epoch FROM started_at) / 86400)::int,
                callee_employee_id, direction, outcome, ring_seconds, talk_seconds
         FROM call_records WHERE callee_employee_id IS NOT NULL
           AND callee_employee_id IS DISTINCT FROM caller_employee_id
       ) s GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO call_stats_number_monthly
       SELECT tenant_id,
              (extract(year FROM started_at AT TIME ZONE 'UTC') * 100
               + extract(month FROM started_at AT TIME ZONE 'UTC'))::int,
              CASE direction WHEN 'incoming' THEN caller ELSE callee END,
              count(*), count(*) FILTER (WHERE outcome = 'answered'), sum(talk_seconds)
       FROM call_records WHERE direction IN ('incoming', 'outgoing') GROUP BY 1, 2, 3""",
    """INSERT INTO call_stats_concurrency
       SELECT tenant_id, m, count(*) FROM call_records,
         generate_series(floor(extract(epoch FROM started_at) / 60)::int,
                         floor(extract(epoch FROM ended_at) / 60)::int) AS m
       GROUP BY 1, 2""",
    # coarse rollups (the aggregator adds to them with the fine tables)
    """INSERT INTO call_stats_employee_monthly
       SELECT tenant_id, (extract(year FROM d) * 100 + extract(month FROM d))::int,
              employee_id, direction, outcome, sum(calls), sum(ring_seconds), sum(talk_seconds)
       FROM (SELECT *, timestamp '1970-01-01' + day * interval '1 day' AS d
             FROM call_stats_employee_daily) s
       GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO call_stats_concurrency_hourly
       SELECT tenant_id, minute / 60, max(calls) FROM call_stats_concurrency GROUP BY 1, 2""",
    """INSERT INTO call_stats_line_daily
       SELECT tenant_id, floor(extract(epoch FROM started_at) / 86400)::int,
              coalesce(line, CASE WHEN direction = 'incoming' AND callee LIKE '+%'
                                  THEN callee ELSE '' END),
              direction, outcome, count(*), sum(ring_seconds), sum(talk_seconds)
       FROM call_records GROUP BY 1, 2, 3, 4, 5""",
    """INSERT INTO call_stats_country_daily
       SELECT r.tenant_id, floor(extract(epoch FROM r.started_at) / 86400)::int,
              coalesce(c.country, ''), r.direction, r.outcome,
              count(*), sum(r.ring_seconds), sum(r.talk_seconds)
       FROM call_records r LEFT JOIN bench_country c ON c.prefix = left(
         CASE r.direction WHEN 'incoming' THEN r.caller ELSE r.callee END, 5)
       WHERE r.direction IN ('incoming', 'outgoing') GROUP BY 1, 2, 3, 4, 5""",
]

# External numbers: <prefix> + 7 digits; the country of each prefix comes from country_of.
PREFIXES = ["+7495", "+7495", "+7495", "+7812", "+7727", "+4930", "+3314", "+7495"]

# One chunk of call records: $1 tenant, $2 first id, $3 count, $4 period start (epoch),
# $5 period seconds, $6 first employee id, $7 employees, $8 number prefixes (8).
GENERATE = """
INSERT INTO call_records (id, tenant_id, sip_call_id, direction, caller, caller_name,
  caller_employee_id, callee, callee_employee_id, started_at, answered_at, ended_at,
  ring_seconds, talk_seconds, outcome, end_reason, legs, trace, line)
SELECT lpad(to_hex(g), 32, '0'), $1, 'bench-' || g, dir,
  CASE dir WHEN 'incoming' THEN ext ELSE '1' || emp END,
  CASE dir WHEN 'incoming' THEN 'Client ' || (g % 1000) ELSE '' END,
  CASE dir WHEN 'incoming' THEN NULL ELSE $6 + emp END,
  CASE dir WHEN 'outgoing' THEN ext ELSE '1' || emp2 END,
  CASE dir WHEN 'outgoing' THEN NULL ELSE $6 + emp2 END,
  to_timestamp(t0), CASE WHEN outcome = 'answered' THEN to_timestamp(t0 + ring) END,
  to_timestamp(t0 + ring + talk), ring, talk, outcome, 'hangup', '[]', '[]',
  CASE WHEN dir <> 'internal' THEN '+7495100' || lpad((g % 20)::text, 4, '0') END
FROM (
  SELECT g, dir, outcome, emp, emp2, ($8::text[])[1 + k % 8] || lpad(k::text, 7, '0') AS ext,
    -- business hours: 80 % of calls between 08:00 and 20:00 UTC
    $4 + floor(r1 * ($5 / 86400)) * 86400
       + CASE WHEN r2 < 0.8 THEN 28800 + floor(r3 * 43200) ELSE floor(r3 * 86400) END AS t0,
    round((2 + r4 * 25)::numeric, 1)::float AS ring,
    CASE WHEN outcome = 'answered' THEN round((5 + r5 * r5 * 600)::numeric, 1)::float
         ELSE 0 END AS talk
  FROM (
    SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
      (ARRAY['incoming', 'incoming', 'outgoing', 'outgoing', 'internal'])[1 + g % 5] AS dir,
      (ARRAY['answered', 'answered', 'answered', 'answered', 'answered', 'answered',
             'missed', 'missed', 'busy', 'cancelled', 'failed'])[1 + (g * 7) % 11] AS outcome,
      (g * 31) % $7 AS emp, (g * 17 + 3) % $7 AS emp2,
      floor(power(random(), 3) * 200000)::int AS k
    FROM generate_series($2::bigint, $2::bigint + $3 - 1) AS g
  ) a
) b
"""

PASSWORD = "bench-password-123"


async def prepare(args: argparse.Namespace) -> str:
    admin = await asyncpg.connect(f"{args.pg}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    await admin.execute(f'CREATE DATABASE "{args.db}"')
    await admin.close()
    return f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{args.db}"


async def load(args: argparse.Namespace, dsn: str, tenant_id: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    timings: dict[str, float] = {}
    try:
        await conn.execute("SET synchronous_commit = off")
        emp_first = await conn.fetchval("SELECT min(id) - 0 FROM employees")
        emp_count = await conn.fetchval("SELECT count(*) FROM employees")
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = int((end - timedelta(days=args.days)).timestamp())
        t = time.perf_counter()
        deadline = t + args.max_seconds
        done = 0
        while done < args.rows and time.perf_counter() < deadline:
            n = min(args.chunk, args.rows - done)
            await conn.execute(
                GENERATE,
                tenant_id,
                done + 1,
                n,
                start,
                args.days * 86400,
                emp_first,
                emp_count,
                PREFIXES,
            )
            done += n
            print(f"  {done:>10,} records, {time.perf_counter() - t:6.1f} s", flush=True)
        timings["records"] = done
        timings["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute(
            "CREATE TEMP TABLE bench_country (prefix text PRIMARY KEY, country text)"
        )
        await conn.executemany(
            "INSERT INTO bench_country VALUES ($1, $2)",
            [(p, country_of(p + "1234567")) for p in sorted(set(PREFIXES))],
        )
        for sql in SUMMARIES:
            await conn.execute(sql)
        await conn.execute("ANALYZE")
        timings["summaries_s"] = time.perf_counter() - t
        for table in (
            "call_stats_hourly",
            "call_stats_employee_daily",
            "call_stats_number_monthly",
            "call_stats_concurrency",
            "call_stats_employee_monthly",
            "call_stats_concurrency_hourly",
            "call_stats_country_daily",
            "call_stats_line_daily",
        ):
            timings[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
    return timings


async def main(args: argparse.Namespace) -> None:
    if args.skip_load:
        url = f"{args.pg.replace('postgresql://', 'postgresql+asyncpg://')}/{args.db}"
    else:
        url = await prepare(args)
    database = Database(url)
    await upgrade(database)
    tmp = Path(f"/tmp/cdr-bench-{args.db}")
    settings = Settings(data_dir=tmp, secret_key="b" * 40)
    app = create_app(settings, database=database, bus=EventBus())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    if args.skip_load:
        r = await client.post(
            "/api/v1/auth/signin", json={"email": "owner@bench.example.com", "password": PASSWORD}
        )
        r.raise_for_status()
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        await measure(args, client)
        await client.aclose()
        await database.dispose()
        return
    r = await client.post(
        "/api/v1/auth/signup/company",
        json={
            "company_name": "Bench Co",
            "email": "owner@bench.example.com",
            "password": PASSWORD,
            "full_name": "Owner",
        },
    )
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    tenant_id = (await client.get("/api/v1/me")).json()["tenant"]["id"]
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        """INSERT INTO departments (tenant_id, name, description, created_at)
           SELECT $1, 'Dept ' || d, '', now() FROM generate_series(1, 10) d""",
        tenant_id,
    )
    await conn.execute(
        """INSERT INTO users (tenant_id, email, password_hash, full_name, position, role,
             is_active, created_at, updated_at, password_changed_at)
           SELECT $1, 'e' || i || '@bench.example.com', '!', 'Employee ' || i, '', 'employee',
             true, now(), now(), now() FROM generate_series(1, $2) i""",
        tenant_id,
        args.employees,
    )
    await conn.execute(
        """INSERT INTO employees (tenant_id, user_id, department_id, extension, created_at)
           SELECT $1, u.id, (SELECT min(id) FROM departments) + u.id % 10,
             '1' || (row_number() OVER (ORDER BY u.id) - 1), now()
           FROM users u WHERE u.role = 'employee'""",
        tenant_id,
    )
    await conn.close()
    print(f"loading {args.rows:,} call records over {args.days} days ...", flush=True)
    figures = await load(args, dsn, tenant_id)
    for k, v in figures.items():
        print(f"  {k}: {v:,.1f}" if isinstance(v, float) else f"  {k}: {v:,}")
    await measure(args, client)
    await client.aclose()
    await database.dispose()


async def measure(args: argparse.Namespace, client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    routes = [
        ("summary", "/api/v1/stats/summary", {}),
        ("calls per hour", "/api/v1/stats/calls", {"step": "hour"}),
        ("calls per day", "/api/v1/stats/calls", {"step": "day", "tz_hours": 3}),
        ("by direction", "/api/v1/stats/directions", {}),
        ("by employee", "/api/v1/stats/employees", {}),
        ("by department", "/api/v1/stats/departments", {}),
        ("load per hour", "/api/v1/stats/load", {"step": "hour"}),
        ("top numbers", "/api/v1/stats/top-numbers", {"limit": 10}),
        ("by country", "/api/v1/stats/countries", {}),
        ("by line", "/api/v1/stats/lines", {}),
        ("service report", "/api/v1/stats/service-report", {}),
        ("incoming summary", "/api/v1/stats/summary", {"direction": "incoming"}),
    ]
    print(f"\n{'route':<18} {'period':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    rows = []
    for days in (30, 365):
        period = {"from": (now - timedelta(days=days)).isoformat(), "to": now.isoformat()}
        for name, path, extra in routes:
            if days > 31 and extra.get("step") == "hour":  # the API limits hourly series
                name, extra = name.replace("hour", "day"), extra | {"step": "day"}
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                resp = await client.get(path, params=period | extra)
                times.append((time.perf_counter() - t) * 1000)
                resp.raise_for_status()
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            line = (
                f"{name:<18} {days:>5}d {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}"
            )
            print(line, flush=True)
            rows.append(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="clickphone_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=1200.0)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    asyncio.run(main(parser.parse_args()))
