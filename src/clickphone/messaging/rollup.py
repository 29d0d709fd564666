"""Daily totals of messages, so the message-history report over months stays fast.

``message_stats_daily`` holds, per tenant, UTC day, channel, direction, status and sender,
the number of messages, their SMS parts and cost. A message's status keeps changing for a
while after it is written (receipts, reading, delayed sending), so a day is summarised only
when it is settled: older than ``FRESH_DAYS``. The report reads whole settled days from here
and everything newer (and the partial days at the edges of a period) from ``messages``.

:class:`MessageRollupJob` (started with the messaging router) summarises every settled day
not summarised yet — all of them on the first run — and recomputes the last ``REDO_DAYS``
settled days on each run, which catches a receipt that arrives late. ``message_stats_days``
lists the summarised days (a day without messages is summarised too, as no rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.db.models import Message, MessageStatsDaily, MessageStatsDay
from clickphone.db.session import Database
from clickphone.jobs import PeriodicJob
from clickphone.logging import get_logger

log = get_logger(__name__)

FRESH_DAYS = 7  # statuses of messages younger than this may still change
REDO_DAYS = 7  # settled days recomputed on every run (late receipts)
EPOCH = date(1970, 1, 1)


def epoch_day(d: date) -> int:
    return (d - EPOCH).days


def day_start(day: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)


def settled_before(now: datetime) -> int:
    """The first epoch day that is not settled yet."""
    return epoch_day(now.astimezone(UTC).date()) - FRESH_DAYS


def day_text(session: AsyncSession) -> Any:
    """``created_at`` as its UTC calendar day (YYYY-MM-DD text) on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Message.created_at), "YYYY-MM-DD")
    return func.date(Message.created_at)  # SQLite keeps naive UTC


async def summarise(session: AsyncSession, days: Iterable[int]) -> int:
    """(Re)compute the given epoch days for every tenant; returns the rows written."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    written = 0
    # contiguous runs of days: one aggregation per run
    runs: list[tuple[int, int]] = []
    for d in wanted:
        if runs and runs[-1][1] == d:
            runs[-1] = (runs[-1][0], d + 1)
        else:
            runs.append((d, d + 1))
    for first, end in runs:
        await session.execute(
            delete(MessageStatsDaily).where(
                MessageStatsDaily.day >= first, MessageStatsDaily.day < end
            )
        )
        day = day_text(session).label("day")
        sender = func.coalesce(Message.sender_user_id, 0).label("sender")
        rows = await session.execute(
            select(
                Message.tenant_id,
                day,
                Message.channel,
                Message.direction,
                Message.status,
                sender,
                func.count(),
                func.sum(Message.parts),
                func.sum(func.coalesce(Message.cost, 0)),
            )
            .where(Message.created_at >= day_start(first), Message.created_at < day_start(end))
            .group_by(
                Message.tenant_id, day, Message.channel, Message.direction, Message.status, sender
            )
        )
        batch = [
            MessageStatsDaily(
                tenant_id=tenant_id,
                day=epoch_day(date.fromisoformat(str(d))),
                channel=channel,
                direction=direction,
                status=status,
                sender_user_id=int(sender),
                messages=int(n),
                parts=int(parts or 0),
                cost=int(cost or 0),
            )
            for tenant_id, d, channel, direction, status, sender, n, parts, cost in rows
        ]
        session.add_all(batch)
        written += len(batch)
        have = set(
            (
                await session.execute(
                    select(MessageStatsDay.day).where(
                        MessageStatsDay.day >= first, MessageStatsDay.day < end
                    )
                )
            ).scalars()
        )
        session.add_all(MessageStatsDay(day=d) for d in range(first, end) if d not in have)
        await session.flush()
    return written


async def refresh(database: Database, now: datetime | None = None) -> int:
    """Summarise settled days not summarised yet, and redo the latest settled ones."""
    limit = settled_before(now or datetime.now(UTC))
    async with database.transaction() as session:
        oldest = await session.scalar(select(func.min(Message.created_at)))
        if oldest is None:
            return 0
        first = epoch_day(oldest.astimezone(UTC).date())
        done = set(
            (
                await session.execute(
                    select(MessageStatsDay.day).where(
                        MessageStatsDay.day >= first, MessageStatsDay.day < limit
                    )
                )
            ).scalars()
        )
        todo = [d for d in range(first, limit) if d not in done]
        todo += [d for d in range(max(first, limit - REDO_DAYS), limit) if d in done]
        return await summarise(session, todo)


async def summarised(session: AsyncSession, first: int, end: int) -> bool:
    """Whether every day in ``[first, end)`` is summarised."""
    if end <= first:
        return False
    n = await session.scalar(
        select(func.count()).where(MessageStatsDay.day >= first, MessageStatsDay.day < end)
    )
    return int(n or 0) == end - first


class MessageRollupJob(PeriodicJob):
    """:func:`refresh` at start and every ``interval`` seconds."""

    def __init__(self, database: Database, *, interval: float = 300.0) -> None:
        self.database = database
        super().__init__("message-rollup", self.run, interval=interval, at_start=True)

    async def run(self) -> None:
        written = await refresh(self.database)
        if written:
            log.info("messages.rollup", rows=written)


__all__ = [
    "FRESH_DAYS",
    "MessageRollupJob",
    "day_start",
    "epoch_day",
    "refresh",
    "settled_before",
    "summarise",
    "summarised",
]
