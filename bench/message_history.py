"""The message-history report over millions of messages in PostgreSQL: generate, measure p95.

1. Creates (drops first) the database ``--db`` (default ``clickphone_bench_msg``) on the server
   of ``--pg`` and migrates it.
2. Loads one company (owner + ``--employees`` employees with extensions, ``--lines`` numbers,
   some given to employees, the rest shared with the owner) with about ``--conversations``
   conversations (direct chats, a few groups, SMS threads) and their members, and ``--rows``
   messages over ``--days`` days, 80 % in business hours: 40 % chat (internal, status sent),
   45 % outgoing SMS (86 % delivered, 8 % sent, 6 % failed; 1-3 parts, cost; a tenth from
   mailings), 15 % incoming SMS (received). Hot conversations get more messages (skewed pick).
   A second, smaller company (``--other-share`` of the rows, same shape) shares the table so
   that the tenant filter has to work. Generated server-side with ``generate_series`` (one
   ``INSERT ... SELECT`` per ``--chunk`` rows, bounded by ``--max-seconds``); the secondary
   indexes of ``messages`` are dropped for the load and rebuilt with their migration
   definitions afterwards; then ``ANALYZE``.
3. Signs in as the owner (a company administrator: every message of the company) and as one
   employee (only their conversations) and calls ``GET /api/v1/messages/history`` through the
   ASGI app (routing, auth, SQL, JSON) for a 30-day and a 365-day period with no filter,
   channel=sms, status=failed, employee=<extension>, number=<part of a customer's number> and
   q=<word>, page 1 (and offset 10,000 for the unfiltered and SMS lists), ``--runs`` times each
   (fewer when one route has used ``--route-seconds``), plus ``history.csv`` for one day;
   prints p50 / p95 / max in ms and the row total each route reported. ``--skip-load`` reuses
   the database of an earlier run (routes only); ``--only owner|employee`` measures one actor.

    .venv/bin/python bench/message_history.py                           # 5M messages
    .venv/bin/python bench/message_history.py --rows 200000 --runs 5    # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from clickphone.accounts.passwords import hash_password
from clickphone.app import create_app
from clickphone.bus import EventBus
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.migrate import upgrade
from clickphone.messaging.rollup import refresh

PASSWORD = "bench-password-123"
OWNER = "owner@msg.bench.example.com"
OTHER_OWNER = "owner@other.bench.example.com"
EMPLOYEE_INDEX = 7  # the employee who signs in (not a line holder; has shared-line threads)
FILTER_EMPLOYEE_INDEX = 2  # a line holder: employee=<this extension> in the owner's runs
WORD = "invoice"  # in one chat text of 16 and one SMS text of 10: ~7 % of messages

CHAT_TEXTS = [
    "Hi, are you free for a quick call?",
    "Thanks, got it",
    "Can you check the ticket from this morning?",
    "The client called again about the delivery",
    "Meeting moved to 15:00",
    "I will be late today, traffic",
    "Please send me the contract draft",
    "Done, see the shared folder",
    "Who is on duty this weekend?",
    "Lunch?",
    "The invoice for March is approved",
    "Let's discuss it tomorrow",
    "ok",
    "Could you take my calls for an hour?",
    "New price list is attached in the CRM",
    "The customer wants a callback after 6 pm",
]
SMS_OUT_TEXTS = [
    "Your order {n} is ready for pickup. Bench Co",
    "Reminder: your appointment is tomorrow at 10:00",
    "Your courier will arrive between 12:00 and 15:00",
    "Thank you for your call! Rate our service: https://bench.example.com/r/{n}",
    "Your verification code: {n}",
    "We could not reach you, please call us back at +74951000000",
    "Your invoice {n} has been issued, details in your account",
    "Payment received, thank you",
    "Dear customer, our office is closed on Monday",
    "Your request {n} has been registered",
]
SMS_IN_TEXTS = [
    "OK",
    "Thanks!",
    "Can you call me back?",
    "What time do you open tomorrow?",
    "Please cancel my appointment",
    "Where is my order?",
    "Yes",
    "Who is this?",
]

# The conversations of one tenant are planned in bench_conv (a plain table of the bench
# database, read by the message generator): $1 tenant, $2 employee user ids (ordered), ...
PLAN_TABLE = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_conv (
  tenant_id int, kind text, idx int, key text, title text, ext text, line text,
  handler int, members int[], conv_id int, PRIMARY KEY (tenant_id, kind, idx))
"""
# $3 direct chats: pairs of colleagues, no pair twice
PLAN_DIRECT = """
INSERT INTO bench_conv (tenant_id, kind, idx, key, title, members)
SELECT $1, 'direct', i, 'direct:' || least(a, b) || ':' || greatest(a, b), 'direct ' || i,
       ARRAY[a, b]
FROM (SELECT i, ($2::int[])[1 + i % n] AS a,
             ($2::int[])[1 + (i % n + 1 + i / n) % n] AS b
      FROM generate_series(0, $3 - 1) i, (SELECT cardinality($2::int[]) AS n) c) d
"""
# $3 owner user id, $4 groups: every tenth employee, the owner in every other group
PLAN_GROUPS = """
INSERT INTO bench_conv (tenant_id, kind, idx, key, title, members)
SELECT $1, 'group', gi, NULL, 'Group ' || gi,
       array(SELECT u FROM unnest($2::int[]) WITH ORDINALITY e(u, j)
             WHERE (j * 7 + gi) % 10 = 0)
       || CASE WHEN gi % 2 = 0 THEN ARRAY[$3::int] ELSE ARRAY[]::int[] END
FROM generate_series(0, $4 - 1) gi
"""
# $3 owner user id, $4 lines (e164), $5 lines given to the first employees, $6 SMS threads,
# $7 customer-number prefix. A thread of an employee's line is theirs; one of a shared line
# has the employee who handles it and the owner (line_recipients: admins read shared lines).
PLAN_SMS = """
INSERT INTO bench_conv (tenant_id, kind, idx, key, title, ext, line, handler, members)
SELECT $1, 'sms', s, 'sms:' || line || ':' || ext, ext, ext, line, handler,
       CASE WHEN li < $5 THEN ARRAY[handler] ELSE ARRAY[handler, $3::int] END
FROM (SELECT s, li, ($4::text[])[1 + li] AS line,
             $7 || lpad(((s::bigint * 7919 + 13) % 9000000 + 1000000)::text, 7, '0') AS ext,
             CASE WHEN li < $5 THEN ($2::int[])[1 + li]
                  ELSE ($2::int[])[1 + (s * 31) % cardinality($2::int[])] END AS handler
      FROM (SELECT s, s % cardinality($4::text[]) AS li FROM generate_series(0, $6 - 1) s) x
     ) y
"""

# $1 tenant, $2 owner user id
CONVERSATIONS = """
INSERT INTO conversations (tenant_id, kind, key, title, external_number, created_by_user_id,
                           created_at, last_message_at)
SELECT tenant_id, kind, key, title, ext, coalesce(handler, members[1]),
       now() - interval '400 days', now()
FROM bench_conv WHERE tenant_id = $1 ORDER BY kind, idx;
UPDATE bench_conv b SET conv_id = c.id FROM conversations c
WHERE b.tenant_id = $1 AND c.tenant_id = $1 AND c.title = b.title;
INSERT INTO conversation_members (conversation_id, user_id, joined_at)
SELECT DISTINCT conv_id, u, now() - interval '400 days'
FROM bench_conv, unnest(members) u WHERE tenant_id = $1;
"""

# One chunk of messages: $1 tenant, $2 first id, $3 count, $4 period start (epoch), $5 period
# seconds, $6 direct chats, $7 groups, $8 SMS threads, $9 chat texts, $10 outgoing SMS texts,
# $11 incoming SMS texts, $12 campaign ids, $13 the tenant's first id, $14 the tenant's rows.
GENERATE = """
INSERT INTO messages (id, tenant_id, conversation_id, channel, direction, sender_user_id,
  external_number, line, kind, body, translit, status, error, parts, campaign_id, cost,
  created_at, sent_at, delivered_at)
SELECT lpad(to_hex(g), 32, '0'), $1, c.conv_id,
  CASE WHEN t < 8 THEN 'chat' ELSE 'sms' END,
  CASE WHEN t < 8 THEN 'internal' WHEN t < 17 THEN 'outgoing' ELSE 'incoming' END,
  CASE WHEN t < 8 THEN c.members[1 + floor(r6 * cardinality(c.members))::int]
       WHEN t < 17 THEN c.handler END,
  CASE WHEN t >= 8 THEN c.ext END, CASE WHEN t >= 8 THEN c.line END,
  'text',
  CASE WHEN t < 8 THEN ($9::text[])[1 + (g * 13) % cardinality($9::text[])]
       WHEN t < 17 THEN replace(($10::text[])[1 + (g * 7) % cardinality($10::text[])],
                                '{n}', (100000 + g % 900000)::text)
       ELSE ($11::text[])[1 + (g * 11) % cardinality($11::text[])] END,
  false, status,
  CASE WHEN status = 'failed' THEN 'undeliverable (SMSC error 0x0000000B)' ELSE '' END,
  parts,
  CASE WHEN t BETWEEN 8 AND 16 AND r7 < 0.1
       THEN ($12::int[])[1 + g % cardinality($12::int[])] END,
  CASE WHEN t BETWEEN 8 AND 16 AND status <> 'failed' THEN parts * 250 END,
  to_timestamp(t0),
  CASE WHEN t < 17 THEN to_timestamp(t0 + 1) ELSE to_timestamp(t0) END,
  CASE WHEN status = 'delivered' THEN to_timestamp(t0 + 3 + floor(r7 * 30))
       WHEN status = 'received' THEN to_timestamp(t0) END
FROM (
  SELECT g, t, r6, r7,
    CASE WHEN t < 8 THEN 'sent' WHEN t >= 17 THEN 'received'
         WHEN r8 < 0.86 THEN 'delivered' WHEN r8 < 0.94 THEN 'sent' ELSE 'failed' END AS status,
    CASE WHEN t < 8 OR r9 < 0.7 THEN 1 WHEN r9 < 0.9 THEN 2 ELSE 3 END AS parts,
    CASE WHEN t >= 8 THEN 'sms' WHEN r5 < 0.8 THEN 'direct' ELSE 'group' END AS kind,
    floor(power(r4, 2)
          * CASE WHEN t >= 8 THEN $8::int WHEN r5 < 0.8 THEN $6::int ELSE $7::int END)::int
      AS idx,
    -- in time order (as a live table fills): message k of the tenant's n is on day k*days/n;
    -- business hours: 80 % of messages between 08:00 and 20:00 UTC
    $4::bigint + floor((g - $13::bigint)::float8 * ($5::bigint / 86400) / $14::bigint) * 86400
       + CASE WHEN r2 < 0.8 THEN 28800 + floor(r3 * 43200) ELSE floor(r3 * 86400) END AS t0
  FROM (
    SELECT g, g % 20 AS t, random() AS r2, random() AS r3, random() AS r4,
      random() AS r5, random() AS r6, random() AS r7, random() AS r8, random() AS r9
    FROM generate_series($2::bigint, $2::bigint + $3 - 1) AS g
  ) a
) b
JOIN bench_conv c ON c.tenant_id = $1 AND c.kind = b.kind AND c.idx = b.idx
"""


def dsn_of(args: argparse.Namespace) -> str:
    return f"{args.pg}/{args.db}"


async def prepare(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(f"{args.pg}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{args.db}"')
    await admin.execute(f'CREATE DATABASE "{args.db}"')
    await admin.close()


async def signup(client: httpx.AsyncClient, company: str, email: str) -> int:
    r = await client.post(
        "/api/v1/auth/signup/company",
        json={"company_name": company, "email": email, "password": PASSWORD, "full_name": "Owner"},
    )
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return int((await client.get("/api/v1/me")).json()["tenant"]["id"])


async def signin(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post("/api/v1/auth/signin", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]


async def company(
    conn: asyncpg.Connection,
    tenant_id: int,
    tag: str,
    employees: int,
    lines: int,
    conversations: int,
    number_prefix: str,
) -> dict[str, Any]:
    """Employees, numbers, conversations and members of one tenant; their sizes."""
    await conn.execute(
        """INSERT INTO users (tenant_id, email, password_hash, full_name, position, role,
             is_active, created_at, updated_at, password_changed_at)
           SELECT $1, 'e' || i || '@' || $3 || '.bench.example.com', '!', 'Employee ' || i, '',
             'employee', true, now(), now(), now() FROM generate_series(1, $2) i""",
        tenant_id,
        employees,
        tag,
    )
    await conn.execute(
        """INSERT INTO employees (tenant_id, user_id, extension, created_at)
           SELECT $1, u.id, (100 + row_number() OVER (ORDER BY u.id))::text, now()
           FROM users u WHERE u.tenant_id = $1 AND u.role = 'employee'""",
        tenant_id,
    )
    emp_users = [
        r["user_id"]
        for r in await conn.fetch(
            "SELECT user_id FROM employees WHERE tenant_id = $1 ORDER BY user_id", tenant_id
        )
    ]
    owner = await conn.fetchval(
        "SELECT id FROM users WHERE tenant_id = $1 AND role = 'tenant_owner'", tenant_id
    )
    numbers = [f"{number_prefix}{i:04d}" for i in range(1, lines + 1)]
    assigned = max(1, lines * 6 // 10)  # the first lines belong to employees 1..n
    await conn.execute(
        """INSERT INTO phone_numbers (e164, country, tenant_id, user_id, state, label,
             created_at, city, number_type, monthly_fee, setup_fee, currency)
           SELECT n, 'RU', $1, CASE WHEN o <= $3 THEN ($4::int[])[o] END, 'assigned', '',
             now(), 'Moscow', 'local', 0, 0, 'RUB'
           FROM unnest($2::text[]) WITH ORDINALITY AS x(n, o)""",
        tenant_id,
        numbers,
        assigned,
        emp_users,
    )
    groups = 20 if employees >= 50 else 3
    direct = min(conversations * 3 // 10, employees * (employees // 2 - 1))
    sms = max(1, conversations - direct - groups)
    await conn.execute(PLAN_TABLE)
    await conn.execute(PLAN_DIRECT, tenant_id, emp_users, direct)
    await conn.execute(PLAN_GROUPS, tenant_id, emp_users, owner, groups)
    await conn.execute(
        PLAN_SMS, tenant_id, emp_users, owner, numbers, assigned, sms, number_prefix[:2] + "916"
    )
    for stmt in CONVERSATIONS.strip().split(";\n"):
        if stmt.strip():
            await conn.execute(stmt, tenant_id)
    await conn.execute(
        """INSERT INTO message_campaigns (tenant_id, created_by_user_id, channel, name, body,
             line, translit, status, created_at)
           SELECT $1, $2, 'sms', 'Mailing ' || i, 'Your order is ready', $3, false, 'done',
             now() - interval '400 days' FROM generate_series(1, 5) i""",
        tenant_id,
        owner,
        numbers[0],
    )
    return {"owner": owner, "direct": direct, "group": groups, "sms": sms, "emp_users": emp_users}


async def load(
    args: argparse.Namespace, tenants: list[tuple[int, int, dict[str, Any]]]
) -> dict[str, Any]:
    """Messages for each (tenant, rows, plan); secondary indexes rebuilt at the end."""
    conn = await asyncpg.connect(dsn_of(args))
    figures: dict[str, Any] = {}
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        # messages are generated consistent with their conversations: skip the FK triggers
        await conn.execute("SET session_replication_role = replica")
        indexes = [
            (r["indexname"], r["indexdef"])
            for r in await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages' "
                "AND indexname <> 'pk_messages'"
            )
        ]
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = int((end - timedelta(days=args.days)).timestamp())
        t = time.perf_counter()
        deadline = t + args.max_seconds
        # chunk i of every tenant covers the same slice of the period, so the heap is in time
        # order with the tenants interleaved (one chunk of each in turn)
        chunks = max(1, -(-tenants[0][1] // args.chunk))
        firsts, done, camps = [], [0] * len(tenants), []
        first = 1
        for tenant_id, rows, _ in tenants:
            firsts.append(first)
            first += rows
            camps.append(
                [
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT id FROM message_campaigns WHERE tenant_id = $1", tenant_id
                    )
                ]
            )
        for i in range(chunks):
            if time.perf_counter() > deadline:
                print("  --max-seconds reached: the later part of the period is empty")
                break
            for k, (tenant_id, rows, plan) in enumerate(tenants):
                lo, hi = rows * i // chunks, rows * (i + 1) // chunks
                if hi <= lo:
                    continue
                await conn.execute(
                    GENERATE,
                    tenant_id,
                    firsts[k] + lo,
                    hi - lo,
                    start,
                    args.days * 86400,
                    plan["direct"],
                    plan["group"],
                    plan["sms"],
                    CHAT_TEXTS,
                    SMS_OUT_TEXTS,
                    SMS_IN_TEXTS,
                    camps[k],
                    firsts[k],
                    rows,
                )
                done[k] = hi
            print(
                "  "
                + ", ".join(
                    f"tenant {t}: {d:>10,}" for (t, _, _), d in zip(tenants, done, strict=True)
                )
                + f" messages, {time.perf_counter() - t:6.1f} s",
                flush=True,
            )
        for (tenant_id, _, _), d in zip(tenants, done, strict=True):
            figures[f"messages tenant {tenant_id}"] = d
        figures["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        for _, definition in indexes:
            await conn.execute(definition)
        figures["indexes_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute(
            """UPDATE conversations c SET last_message_at = m.last FROM (
                 SELECT conversation_id, max(created_at) AS last FROM messages GROUP BY 1) m
               WHERE m.conversation_id = c.id"""
        )
        await conn.execute("ANALYZE")
        figures["analyze_s"] = time.perf_counter() - t
        figures["messages_mb"] = await conn.fetchval(
            "SELECT pg_total_relation_size('messages') / 1048576"
        )
    finally:
        await conn.close()
    return figures


async def setup(args: argparse.Namespace, client: httpx.AsyncClient) -> None:
    main_tenant = await signup(client, "Bench Messages Co", OWNER)
    other_client = httpx.AsyncClient(transport=client._transport, base_url="http://bench")
    other_tenant = await signup(other_client, "Other Small Co", OTHER_OWNER)
    await other_client.aclose()
    conn = await asyncpg.connect(dsn_of(args))
    try:
        plan = await company(
            conn, main_tenant, "msg", args.employees, args.lines, args.conversations, "+7495100"
        )
        other_rows = int(args.rows * args.other_share)
        other_plan = await company(
            conn,
            other_tenant,
            "other",
            max(5, args.employees // 10),
            2,
            max(50, args.conversations // 10),
            "+7812200",
        )
        employee_user = plan["emp_users"][EMPLOYEE_INDEX]
        await conn.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2",
            hash_password(PASSWORD),
            employee_user,
        )
        print(
            f"company {main_tenant}: {args.employees} employees, {plan['direct']} direct chats, "
            f"{plan['group']} groups, {plan['sms']} SMS threads; company {other_tenant}: "
            f"{other_plan['direct']}/{other_plan['group']}/{other_plan['sms']}",
            flush=True,
        )
    finally:
        await conn.close()
    print(f"loading {args.rows:,} + {other_rows:,} messages over {args.days} days ...", flush=True)
    figures = await load(
        args, [(main_tenant, args.rows, plan), (other_tenant, other_rows, other_plan)]
    )
    for k, v in figures.items():
        print(f"  {k}: {v:,.1f}" if isinstance(v, float) else f"  {k}: {v:,}", flush=True)


async def timed(
    args: argparse.Namespace, client: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> tuple[list[float], int | None]:
    times: list[float] = []
    total = None
    spent = time.perf_counter()
    for i in range(args.runs):
        t = time.perf_counter()
        resp = await client.get(path, params=params)
        times.append((time.perf_counter() - t) * 1000)
        resp.raise_for_status()
        if total is None and path.endswith("/history"):
            total = resp.json()["total"]
        elif total is None:
            total = max(0, resp.content.count(b"\n") - 1)
        if i >= 2 and time.perf_counter() - spent > args.route_seconds:
            break
    times.sort()
    return times, total


async def measure(args: argparse.Namespace, app: Any) -> list[str]:
    url = dsn_of(args)
    conn = await asyncpg.connect(url)
    try:
        tenant = await conn.fetchval("SELECT tenant_id FROM users WHERE email = $1", OWNER)
        emp_users = [
            r["user_id"]
            for r in await conn.fetch(
                "SELECT user_id FROM employees WHERE tenant_id = $1 ORDER BY user_id", tenant
            )
        ]
        who = await conn.fetchrow(
            "SELECT u.email, e.extension FROM users u JOIN employees e ON e.user_id = u.id "
            "WHERE u.id = $1",
            emp_users[EMPLOYEE_INDEX],
        )
        filter_ext = await conn.fetchval(
            "SELECT extension FROM employees WHERE user_id = $1", emp_users[FILTER_EMPLOYEE_INDEX]
        )
        # a customer of the employee's busiest SMS thread: search by 6 of its digits
        number = await conn.fetchval(
            """SELECT c.external_number FROM conversations c
               JOIN conversation_members m ON m.conversation_id = c.id
               WHERE c.kind = 'sms' AND m.user_id = $1
               ORDER BY (SELECT count(*) FROM messages x WHERE x.conversation_id = c.id) DESC
               LIMIT 1""",
            emp_users[EMPLOYEE_INDEX],
        )
        count = await conn.fetchval("SELECT count(*) FROM messages")
    finally:
        await conn.close()
    part = number[-7:-1]
    print(
        f"\n{count:,} messages in the table; employee {who['email']} (ext {who['extension']}); "
        f"filters employee={filter_ext} (owner) / {who['extension']} (employee), "
        f"number={part}, q={WORD}"
    )
    now = datetime.now(UTC)
    actors = [("owner", OWNER, filter_ext), ("employee", who["email"], who["extension"])]
    if args.only:
        actors = [a for a in actors if a[0] == args.only]
    lines = []
    header = f"{'actor':<9} {'route':<22} {'period':>6} {'rows':>10} {'n':>3} " + (
        f"{'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}"
    )
    print("\n" + header, flush=True)
    for actor, email, ext in actors:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        await signin(client, email)
        routes: list[tuple[str, dict[str, Any]]] = [
            ("no filter", {}),
            ("no filter, offset 10k", {"offset": 10_000}),
            ("channel=sms", {"channel": "sms"}),
            ("channel=sms, offset 10k", {"channel": "sms", "offset": 10_000}),
            ("status=failed", {"status": "failed"}),
            (f"employee={ext}", {"employee": ext}),
            (f"number={part}", {"number": part}),
            (f"q={WORD}", {"q": WORD}),
        ]
        for days in (30, 365):
            period = {"from": (now - timedelta(days=days)).isoformat(), "to": now.isoformat()}
            for name, extra in routes:
                times, total = await timed(args, client, "/api/v1/messages/history", period | extra)
                lines.append(_line(actor, name, f"{days}d", total, times))
        day = {"from": (now - timedelta(days=1)).isoformat(), "to": now.isoformat()}
        times, total = await timed(args, client, "/api/v1/messages/history.csv", day)
        lines.append(_line(actor, "history.csv", "1d", total, times))
        await client.aclose()
    return lines


def _line(actor: str, name: str, period: str, total: int | None, times: list[float]) -> str:
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    line = (
        f"{actor:<9} {name:<22} {period:>6} {total if total is not None else '':>10} "
        f"{len(times):>3} {statistics.median(times):9.1f} {p95:9.1f} {times[-1]:9.1f}"
    )
    print(line, flush=True)
    return line


async def main(args: argparse.Namespace) -> None:
    if not args.skip_load:
        await prepare(args)
    url = dsn_of(args).replace("postgresql://", "postgresql+asyncpg://")
    database = Database(url)
    await upgrade(database)
    # what the messaging service's rollup job does on its first run (then every 5 minutes)
    started = time.perf_counter()
    rows = await refresh(database)
    print(f"daily totals: {rows} rows in {time.perf_counter() - started:.1f} s", flush=True)
    tmp = Path(f"/tmp/msg-bench-{args.db}")
    settings = Settings(data_dir=tmp, secret_key="b" * 40)
    app = create_app(settings, database=database, bus=EventBus())
    if not args.skip_load:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        await setup(args, client)
        await client.aclose()
    await measure(args, app)
    await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--db", default="clickphone_bench_msg")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--employees", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10, help="the company's numbers")
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--other-share", type=float, default=0.1, help="second tenant's rows")
    parser.add_argument("--chunk", type=int, default=250_000, help="main tenant rows")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--route-seconds", type=float, default=30.0, help="time cap per route")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="bounds the load")
    parser.add_argument("--only", choices=("owner", "employee"))
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded database")
    asyncio.run(main(parser.parse_args()))
