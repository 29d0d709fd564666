"""Transactional outbox: events live and die with the producer's transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from clickphone.bus import Event, EventBus, OutboxDispatcher, add_event, matches
from clickphone.db import Database
from clickphone.db.models import OutboxEvent, Tenant


async def _collect(bus: EventBus, pattern: str = "*") -> list[Event]:
    seen: list[Event] = []

    async def handler(ev: Event) -> None:
        seen.append(ev)

    bus.subscribe(pattern, handler)
    return seen


async def _count(database: Database) -> tuple[int, int]:
    async with database.session() as s:
        total = await s.scalar(select(func.count()).select_from(OutboxEvent))
        pending = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
    return int(total or 0), int(pending or 0)


async def test_event_is_written_in_the_callers_transaction(database: Database) -> None:
    async with database.transaction() as s:
        t = Tenant(name="Acme", kind="company", customer_number="10000001")
        s.add(t)
        await s.flush()
        add_event(s, "tenant.created", {"tenant_id": t.id}, tenant_id=t.id)
    assert await _count(database) == (1, 1)


async def test_rollback_drops_the_event_and_publishes_nothing(
    database: Database, bus: EventBus
) -> None:
    seen = await _collect(bus)
    dispatcher = OutboxDispatcher(database, bus, poll_interval=0.05)
    await dispatcher.start()
    try:
        with pytest.raises(RuntimeError):
            async with database.transaction() as s:
                add_event(s, "x.happened", {"n": 1})
                raise RuntimeError("boom")
        await asyncio.sleep(0.2)
    finally:
        await dispatcher.stop()
    assert seen == []
    assert await _count(database) == (0, 0)


async def test_published_after_commit_and_marked(database: Database, bus: EventBus) -> None:
    seen = await _collect(bus, "call.*")
    dispatcher = OutboxDispatcher(database, bus, poll_interval=30)  # commit hook must wake it
    await dispatcher.start()
    try:
        async with database.transaction() as s:
            ev = add_event(s, "call.ended", {"call_id": "abc"}, tenant_id=7)
            add_event(s, "message.sent", {"id": 1})
            await s.flush()
            await asyncio.sleep(0.1)
            assert seen == []  # not before commit
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()
    assert [e.type for e in seen] == ["call.ended"]
    assert seen[0].id == ev.id and seen[0].tenant_id == 7 and seen[0].payload == {"call_id": "abc"}
    assert await _count(database) == (2, 0)


async def test_unpublished_rows_are_published_on_start(database: Database, bus: EventBus) -> None:
    # Rows committed by a process that died before dispatching them.
    async with database.transaction() as s:
        ids = [add_event(s, "sms.delivered", {"n": i}).id for i in range(3)]
    seen = await _collect(bus)
    dispatcher = OutboxDispatcher(database, bus)
    await dispatcher.start()
    await dispatcher.stop()
    assert sorted(e.id for e in seen) == sorted(ids)
    assert await _count(database) == (3, 0)
    # A second start publishes nothing again.
    again = OutboxDispatcher(database, bus)
    await again.start()
    await again.stop()
    assert len(seen) == 3


async def test_failing_handler_does_not_block_others(bus: EventBus) -> None:
    got: list[str] = []

    async def bad(ev: Event) -> None:
        raise ValueError("handler bug")

    async def good(ev: Event) -> None:
        got.append(ev.id)

    bus.subscribe("*", bad)
    unsubscribe = bus.subscribe("a.b", good)
    await bus.publish(Event(type="a.b", payload={}))
    unsubscribe()
    await bus.publish(Event(type="a.b", payload={}))
    assert len(got) == 1


def test_matches() -> None:
    assert matches("*", "x")
    assert matches("call.*", "call.ended")
    assert not matches("call.*", "callx.ended")
    assert matches("call.ended", "call.ended")
    assert not matches("call.ended", "call.end")
