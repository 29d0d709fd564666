"""The message history's daily totals: settled days summarised once (and the latest ones
redone), the report answering the same from them as from the messages, partial edge days
and fresh days read live (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from apitest import Api
from clickphone.db import Database
from clickphone.db.models import (
    Conversation,
    Message,
    MessageStatsDaily,
    MessageStatsDay,
    new_event_id,
)
from clickphone.messaging.rollup import FRESH_DAYS, epoch_day, refresh, settled_before

M = "/api/v1/messages/history"
NOW = datetime.now(UTC).replace(microsecond=0)


async def _seed(database: Database, tenant_id: int, user_id: int) -> None:
    """Messages on 40 days: some long settled, some fresh, with every kind and status."""
    kinds = [
        ("chat", "internal", "delivered", user_id, 1, None),
        ("sms", "outgoing", "delivered", user_id, 2, 300),
        ("sms", "outgoing", "failed", user_id, 1, None),
        ("sms", "incoming", "received", None, 1, None),
        ("sms", "outgoing", "queued", user_id, 1, None),
    ]
    async with database.transaction() as s:
        conv = Conversation(tenant_id=tenant_id, kind="sms", key="sms:+74957000001:+74951234567")
        s.add(conv)
        await s.flush()
        for day in range(40):
            for i, (channel, direction, status, sender, parts, cost) in enumerate(kinds):
                if (day + i) % 3 == 0:
                    continue
                s.add(
                    Message(
                        id=new_event_id(),
                        tenant_id=tenant_id,
                        conversation_id=conv.id,
                        channel=channel,
                        direction=direction,
                        sender_user_id=sender,
                        external_number="+74951234567",
                        line="+74957000001",
                        body=f"day {day}",
                        status=status,
                        parts=parts,
                        cost=cost,
                        created_at=NOW - timedelta(days=day, hours=i * 3),
                    )
                )


async def _report(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get(M, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return {"totals": body["totals"], "by_day": body["by_day"]}


async def test_daily_totals_answer_like_the_messages(api: Api, database: Database) -> None:
    owner = await api.signup_company("Rollup Co", "owner@rollup.example.com")
    me = (await owner.get("/api/v1/me")).json()
    await _seed(database, me["tenant"]["id"], me["user"]["id"])
    other = await api.signup_company("Other Rollup", "owner@other-rollup.example.com")
    oth = (await other.get("/api/v1/me")).json()
    await _seed(database, oth["tenant"]["id"], oth["user"]["id"])

    # a period with partial edge days, and whole-day ones
    start = (NOW - timedelta(days=33, hours=5)).isoformat()
    views: list[dict[str, Any]] = [
        {},
        {"channel": "sms"},
        {"direction": "incoming"},
        {"status": "failed"},
        {"status": "pending"},
        {"from": start},
        {"from": start, "to": (NOW - timedelta(days=2)).isoformat()},
    ]
    before = [await _report(owner, **v) for v in views]
    assert before[0]["totals"]["messages"] > 90

    written = await refresh(database, NOW)
    assert written > 0
    async with database.session() as s:
        days = set((await s.execute(select(MessageStatsDay.day))).scalars())
        limit = settled_before(NOW)
        oldest = await s.scalar(select(func.min(Message.created_at)))
        assert oldest is not None
        # every settled day from the oldest message on, none of the fresh ones
        assert days == set(range(epoch_day(oldest.astimezone(UTC).date()), limit))
        tenants = set((await s.execute(select(MessageStatsDaily.tenant_id))).scalars())
        assert tenants == {me["tenant"]["id"], oth["tenant"]["id"]}
    after = [await _report(owner, **v) for v in views]
    assert after == before

    # the report really reads the totals for settled days: doctor one and see it
    day = settled_before(NOW) - 3
    async with database.transaction() as s:
        await s.execute(
            update(MessageStatsDaily)
            .where(
                MessageStatsDaily.tenant_id == me["tenant"]["id"],
                MessageStatsDaily.day == day,
                MessageStatsDaily.channel == "chat",
            )
            .values(messages=MessageStatsDaily.messages + 1000)
        )
    doctored = await _report(owner)
    assert doctored["totals"]["messages"] == before[0]["totals"]["messages"] + 1000
    # a view the totals cannot answer (a text search) reads the messages
    assert (await _report(owner, q="day"))["totals"] == before[0]["totals"]

    # the next run redoes the latest settled days (a late receipt, or the doctoring)
    await refresh(database, NOW)
    assert (await _report(owner)) == before[0]
    # a late change to a settled message is caught by the redo window
    async with database.transaction() as s:
        late = await s.scalar(
            select(Message.id).where(
                Message.tenant_id == me["tenant"]["id"],
                Message.status == "queued",
                Message.created_at < NOW - timedelta(days=FRESH_DAYS + 1),
                Message.created_at > NOW - timedelta(days=FRESH_DAYS + 3),
            )
        )
        assert late is not None
        await s.execute(update(Message).where(Message.id == late).values(status="delivered"))
    await refresh(database, NOW)
    fixed = (await _report(owner))["totals"]
    assert fixed["pending"] == before[0]["totals"]["pending"] - 1
    assert fixed["delivered"] == before[0]["totals"]["delivered"] + 1
    async with database.session() as s:
        n = await s.scalar(select(func.sum(MessageStatsDaily.messages)))
        assert n is not None and n > 0
    assert epoch_day(NOW.date()) - settled_before(NOW) == FRESH_DAYS
