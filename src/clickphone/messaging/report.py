"""The message-history report: every chat message and SMS of a period, filtered, counted,
charted by day, listed newest first and exported (CSV / XLSX).

``GET /api/v1/messages/history`` (JSON), ``/messages/history.csv``, ``/messages/history.xlsx``.
Company owners and administrators see the company's messages; everyone else sees the
conversations they are in. The text of a chat between colleagues is shown only to its members
(administrators see that it happened, not what was said); SMS to and from customers are
business correspondence and shown to administrators in full.

Filters: period (``from``/``to``, default the last 30 days), ``channel`` (chat / sms),
``direction`` (internal / incoming / outgoing), ``status`` (delivered, failed, ... or the
group ``pending``), ``employee`` (a user id or an extension: what they sent, and SMS to
their threads), ``number`` (part of the external number or our line), ``q`` (text).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import ValidationFailed
from clickphone.accounts.scope import Actor
from clickphone.api.deps import CurrentActor, SessionDep
from clickphone.api.export import csv_response, xlsx_response
from clickphone.api.schemas import ERROR_RESPONSES
from clickphone.db.models import (
    Conversation,
    ConversationMember,
    Employee,
    Message,
    MessageStatsDaily,
    User,
)
from clickphone.messaging.rollup import (
    day_start,
    day_text,
    epoch_day,
    settled_before,
    summarised,
)


async def custom_plans(session: SessionDep) -> None:
    """PostgreSQL: plan each report query for its own period and filters (a generic plan of
    a prepared statement is many times slower here), and no JIT (it costs more than it saves
    on these aggregations)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        await session.execute(text("SET LOCAL jit = off"))


router = APIRouter(
    prefix="/messages",
    responses=ERROR_RESPONSES,
    tags=["messages"],
    dependencies=[Depends(custom_plans)],
)

MAX_SPAN = timedelta(days=366)
EXPORT_LIMIT = 100_000
PENDING = ("scheduled", "queued", "sending")
Channel = Literal["chat", "sms"]
Direction = Literal["internal", "incoming", "outgoing"]
Status = Literal[
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "received",
    "cancelled",
    "pending",
]
COLUMNS = (
    "created_at",
    "channel",
    "direction",
    "status",
    "employee",
    "external_number",
    "line",
    "parts",
    "cost",
    "body",
    "deleted",
    "error",
    "delivered_at",
    "id",
)


class HistoryFilter:
    def __init__(
        self,
        actor: CurrentActor,
        date_from: Annotated[datetime | None, Query(alias="from")] = None,
        date_to: Annotated[datetime | None, Query(alias="to")] = None,
        channel: Annotated[Channel | None, Query()] = None,
        direction: Annotated[Direction | None, Query()] = None,
        status: Annotated[Status | None, Query()] = None,
        employee: Annotated[
            str | None, Query(max_length=20, description="user id or extension")
        ] = None,
        number: Annotated[str | None, Query(max_length=40)] = None,
        q: Annotated[str | None, Query(max_length=200, description="text contains")] = None,
    ) -> None:
        if actor.tenant_id is None:
            raise ValidationFailed({"tenant": "operator staff have no message history"})
        self.actor: Actor = actor
        now = datetime.now(UTC)
        self.end = _aware(date_to) or now
        self.start = _aware(date_from) or (self.end - timedelta(days=30))
        if self.end <= self.start:
            raise ValidationFailed({"to": "must be after from"})
        if self.end - self.start > MAX_SPAN:
            raise ValidationFailed({"from": "a report covers at most a year"})
        self.channel, self.direction, self.status = channel, direction, status
        self.employee, self.number, self.q = employee, number, q

    @property
    def sees_all(self) -> bool:
        return self.actor.is_tenant_admin

    def mine(self) -> Any:
        return select(ConversationMember.conversation_id).where(
            ConversationMember.user_id == self.actor.user_id
        )

    async def where(
        self,
        session: AsyncSession,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Any]:
        m = Message
        conds: list[Any] = [
            m.tenant_id == self.actor.tenant_id,
            m.created_at >= (start or self.start),
            m.created_at < (end or self.end),
            or_(m.status != "scheduled", m.sender_user_id == self.actor.user_id),
        ]
        if not self.sees_all:
            conds.append(m.conversation_id.in_(self.mine()))
        conds += self.kind_filters(m)
        if self.employee:
            uid = await _employee_user(session, self.actor, self.employee.strip())
            # what they wrote, and SMS that came to their threads (through the conversation
            # index; a group they left no longer counts as theirs)
            threads = select(ConversationMember.conversation_id).where(
                ConversationMember.user_id == uid
            )
            conds.append(m.conversation_id.in_(threads))
            conds.append(or_(m.sender_user_id == uid, m.direction == "incoming"))
        if self.number:
            digits = "".join(c for c in self.number if c.isdigit())
            if digits:
                # the threads with such a number or line first: a LIKE over the messages
                # themselves could use no index
                found = await session.execute(
                    select(Conversation.id)
                    .where(
                        Conversation.tenant_id == self.actor.tenant_id,
                        Conversation.kind == "sms",
                        Conversation.key.like(f"%{digits}%"),
                    )
                    .limit(10_000)
                )
                conds.append(m.conversation_id.in_(list(found.scalars()) or [-1]))
        if self.q:
            conds.append(func.lower(m.body).like(f"%{self.q.strip().lower()}%"))
        return conds

    def kind_filters(self, table: Any) -> list[Any]:
        """The filters the daily totals can answer too (same column names)."""
        conds: list[Any] = []
        if self.channel:
            conds.append(table.channel == self.channel)
        if self.direction:
            conds.append(table.direction == self.direction)
        if self.status == "pending":
            conds.append(table.status.in_(PENDING))
        elif self.status:
            conds.append(table.status == self.status)
        return conds

    @property
    def summarisable(self) -> bool:
        """Administrators' company-wide views without per-row filters: whole settled days
        come from the daily totals."""
        return self.sees_all and not (self.employee or self.number or self.q)


def _aware(value: datetime | None) -> datetime | None:
    """In UTC (a time without an offset is taken as UTC): days are UTC days."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


async def _employee_user(session: AsyncSession, actor: Actor, text: str) -> int:
    if text.isdigit():
        by_ext = await session.scalar(
            select(Employee.user_id).where(
                Employee.tenant_id == actor.tenant_id, Employee.extension == text
            )
        )
        if by_ext is not None:
            return int(by_ext)
        by_id = await session.scalar(
            select(User.id).where(User.id == int(text), User.tenant_id == actor.tenant_id)
        )
        if by_id is not None:
            return int(by_id)
    raise ValidationFailed({"employee": "no such employee (a user id or an extension)"})


FilterDep = Annotated[HistoryFilter, Depends(HistoryFilter)]


class HistoryTotals(BaseModel):
    messages: int = 0
    chat: int = 0
    sms_outgoing: int = 0
    sms_incoming: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    sms_parts: int = 0
    cost: int = 0
    delivery_rate: float = 0.0


class HistoryDay(BaseModel):
    day: date
    chat: int
    sms_outgoing: int
    sms_incoming: int
    failed: int


class HistoryRow(BaseModel):
    id: str
    created_at: datetime
    channel: str
    direction: str
    status: str
    employee: str
    sender_user_id: int | None
    conversation_id: int
    external_number: str | None
    line: str | None
    parts: int
    cost: int | None
    body: str
    body_hidden: bool
    deleted: bool
    error: str
    delivered_at: datetime | None
    campaign_id: int | None


class HistoryOut(BaseModel):
    totals: HistoryTotals
    by_day: list[HistoryDay]
    items: list[HistoryRow]
    total: int
    limit: int
    offset: int


def _flag(cond: Any) -> Any:
    return func.sum(case((cond, 1), else_=0))


# per day: messages, chat, SMS out, SMS in, delivered, failed, pending, SMS parts, cost,
# SMS out delivered, SMS out with a final state
Counters = list[int]


def _counters(t: Any, n: Any) -> list[Any]:
    """The aggregate columns over ``t`` (messages, or the daily totals with ``n`` per row)."""
    sms_out = and_(t.channel == "sms", t.direction == "outgoing")

    def count(cond: Any) -> Any:
        return func.sum(case((cond, n), else_=0))

    return [
        func.sum(n),
        count(t.channel == "chat"),
        count(sms_out),
        count(t.direction == "incoming"),
        count(t.status == "delivered"),
        count(t.status == "failed"),
        count(t.status.in_(PENDING)),
        func.sum(case((sms_out, t.parts), else_=0)),
        func.sum(func.coalesce(t.cost, 0)),
        count(and_(sms_out, t.status == "delivered")),
        count(and_(sms_out, t.status.in_(("delivered", "failed")))),
    ]


async def _live(session: AsyncSession, conds: list[Any]) -> dict[date, Counters]:
    day = day_text(session).label("day")
    rows = await session.execute(select(day, *_counters(Message, 1)).where(*conds).group_by(day))
    return {date.fromisoformat(str(d)): [int(v or 0) for v in vals] for d, *vals in rows}


async def _summarised(
    session: AsyncSession, f: HistoryFilter, first: int, end: int
) -> dict[date, Counters]:
    t = MessageStatsDaily
    # parts and cost of the daily totals are sums already
    rows = await session.execute(
        select(t.day, *_counters(t, t.messages))
        .where(
            t.tenant_id == f.actor.tenant_id,
            t.day >= first,
            t.day < end,
            t.status != "scheduled",
            *f.kind_filters(t),
        )
        .group_by(t.day)
    )
    return {day_start(d).date(): [int(v or 0) for v in vals] for d, *vals in rows}


async def _per_day(
    session: AsyncSession, f: HistoryFilter, conds: list[Any]
) -> dict[date, Counters]:
    """Counters per UTC day of the period: settled whole days from the daily totals when the
    view allows it, the rest from the messages."""
    if f.summarisable:
        first = epoch_day(f.start.date())
        if day_start(first) < f.start:
            first += 1  # a partial first day comes from the messages
        end = min(epoch_day(f.end.date()), settled_before(datetime.now(UTC)))
        if end > first and await summarised(session, first, end):
            out = await _summarised(session, f, first, end)
            for lo, hi in ((f.start, day_start(first)), (day_start(end), f.end)):
                if hi > lo:
                    for d, c in (await _live(session, await f.where(session, lo, hi))).items():
                        out[d] = [a + b for a, b in zip(out.get(d, [0] * len(c)), c, strict=True)]
            return out
    return await _live(session, conds)


def _totals(days: dict[date, Counters]) -> HistoryTotals:
    sums = [sum(c[i] for c in days.values()) for i in range(11)]
    n, chat, out, inc, delivered, failed, pending, parts, cost, out_ok, out_done = sums
    return HistoryTotals(
        messages=n,
        chat=chat,
        sms_outgoing=out,
        sms_incoming=inc,
        delivered=delivered,
        failed=failed,
        pending=pending,
        sms_parts=parts,
        cost=cost,
        delivery_rate=round(out_ok / out_done, 4) if out_done else 0.0,
    )


def _by_day(days: dict[date, Counters]) -> list[HistoryDay]:
    return [
        HistoryDay(day=d, chat=c[1], sms_outgoing=c[2], sms_incoming=c[3], failed=c[5])
        for d, c in sorted(days.items())
        if c[0]
    ]


async def _rows(
    session: AsyncSession, f: HistoryFilter, conds: list[Any], limit: int, offset: int
) -> list[HistoryRow]:
    m = Message
    stmt = (
        select(m, User.full_name, User.email, Employee.extension)
        .outerjoin(User, User.id == m.sender_user_id)
        .outerjoin(Employee, Employee.user_id == m.sender_user_id)
        .where(*conds)
        .order_by(m.created_at.desc(), m.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(stmt)).all()
    member_of: set[int] = set()
    if f.sees_all:
        member_of = set((await session.execute(f.mine())).scalars())
    out = []
    for msg, name, email, ext in rows:
        hidden = msg.channel == "chat" and f.sees_all and msg.conversation_id not in member_of
        who = (name or email or "") if msg.sender_user_id else ""
        if who and ext:
            who = f"{who} ({ext})"
        out.append(
            HistoryRow(
                id=msg.id,
                created_at=msg.created_at,
                channel=msg.channel,
                direction=msg.direction,
                status=msg.status,
                employee=who,
                sender_user_id=msg.sender_user_id,
                conversation_id=msg.conversation_id,
                external_number=msg.external_number,
                line=msg.line,
                parts=msg.parts,
                cost=msg.cost,
                body="" if hidden else msg.body,
                body_hidden=hidden,
                deleted=msg.deleted_at is not None,
                error=msg.error,
                delivered_at=msg.delivered_at,
                campaign_id=msg.campaign_id,
            )
        )
    return out


@router.get("/history")
async def message_history(
    f: FilterDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HistoryOut:
    conds = await f.where(session)
    days = await _per_day(session, f, conds)
    totals = _totals(days)
    return HistoryOut(
        totals=totals,
        by_day=_by_day(days),
        items=await _rows(session, f, conds, limit, offset),
        total=totals.messages,
        limit=limit,
        offset=offset,
    )


async def _export(session: AsyncSession, f: HistoryFilter) -> list[dict[str, Any]]:
    rows = await _rows(session, f, await f.where(session), EXPORT_LIMIT, 0)
    return [r.model_dump() for r in rows]


@router.get("/history.csv", response_class=Response)
async def message_history_csv(f: FilterDep, session: SessionDep) -> Response:
    """The filtered history as CSV (UTF-8 with BOM), newest first."""
    return csv_response(await _export(session, f), COLUMNS, "messages.csv")


@router.get("/history.xlsx", response_class=Response)
async def message_history_xlsx(f: FilterDep, session: SessionDep) -> Response:
    """The filtered history as an Excel workbook (times in UTC), newest first."""
    return await xlsx_response(await _export(session, f), COLUMNS, "messages.xlsx", "Messages")


__all__ = ["router"]
