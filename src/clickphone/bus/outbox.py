"""Transactional outbox: write events in the caller's transaction, publish after commit.

``add_event`` adds an ``outbox_events`` row to the caller's session, so the event exists
exactly when the caller's data does. ``OutboxDispatcher`` publishes unpublished rows to the
bus (woken right after a commit that added events, and polling as a fallback for rows
written by other processes or left by a crash) and then marks them published. Delivery is
at-least-once: a crash between publish and mark re-publishes with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import OutboxEvent, new_event_id, utcnow
from clickphone.db.session import Database
from clickphone.logging import get_logger

log = get_logger(__name__)
_PENDING = "clickphone_outbox_pending"


def add_event(
    session: AsyncSession,
    type: str,
    payload: dict[str, Any],
    tenant_id: int | None = None,
) -> OutboxEvent:
    """Queue an event in the caller's transaction; it is published only if that commits."""
    row = OutboxEvent(
        id=new_event_id(), type=type, payload=payload, tenant_id=tenant_id, created_at=utcnow()
    )
    session.add(row)
    session.sync_session.info[_PENDING] = True
    return row


class OutboxDispatcher:
    def __init__(
        self, database: Database, bus: EventBus, *, poll_interval: float = 2.0, batch: int = 100
    ) -> None:
        self.database = database
        self.bus = bus
        self.poll_interval = poll_interval
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._listening = False

    # -- commit hook -------------------------------------------------------------------
    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING, False):
            self._wake.set()

    def _after_rollback(self, session: Session, _previous: Any) -> None:
        session.info.pop(_PENDING, None)

    def _listen(self) -> None:
        if not self._listening:
            cls = self.database.sync_session_class
            sa_event.listen(cls, "after_commit", self._after_commit)
            sa_event.listen(cls, "after_soft_rollback", self._after_rollback)
            self._listening = True

    def _unlisten(self) -> None:
        if self._listening:
            cls = self.database.sync_session_class
            sa_event.remove(cls, "after_commit", self._after_commit)
            sa_event.remove(cls, "after_soft_rollback", self._after_rollback)
            self._listening = False

    # -- dispatching -------------------------------------------------------------------
    async def dispatch_pending(self) -> int:
        """Publish every unpublished row (oldest first); return how many were published."""
        total = 0
        async with self._lock:
            while True:
                async with self.database.transaction() as session:
                    rows = (
                        await session.scalars(
                            select(OutboxEvent)
                            .where(OutboxEvent.published_at.is_(None))
                            .order_by(OutboxEvent.created_at, OutboxEvent.id)
                            .limit(self.batch)
                        )
                    ).all()
                    events = [
                        Event(
                            id=r.id,
                            type=r.type,
                            payload=dict(r.payload),
                            tenant_id=r.tenant_id,
                            created_at=r.created_at,
                        )
                        for r in rows
                    ]
                if not events:
                    return total
                for ev in events:
                    await self.bus.publish(ev)
                async with self.database.transaction() as session:
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.id.in_([e.id for e in events]))
                        .values(published_at=utcnow())
                    )
                total += len(events)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self.dispatch_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox.dispatch_failed")

    async def start(self) -> None:
        """Publish rows left by a previous run, then follow new commits."""
        self._listen()
        await self.dispatch_pending()
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        self._unlisten()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
