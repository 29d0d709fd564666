"""Create notifications in the producer's transaction; list and mark them read.

:func:`notify` adds a ``notifications`` row and a ``notification.created`` outbox event in the
caller's session, so a notification exists exactly when the decision it reports does
(validate, persist, then notify). Mail goes out from the event (:mod:`.mail`).

``title`` and ``body`` are English text for e-mail and API clients; the cabinet renders
its own words from ``kind`` and ``data`` in the user's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import NotFound
from clickphone.accounts.scope import Actor
from clickphone.bus.outbox import add_event
from clickphone.db.listing import ListQuery, Page, paginate
from clickphone.db.models import Notification, User, utcnow

KINDS = (
    "store.approved",
    "store.rejected",
    "store.requested",
    "number.expiring",
    "number.expired",
    "message.failed",
    "voicemail.received",
    "contact.birthday",
)


async def notify(
    session: AsyncSession,
    *,
    user_id: int,
    tenant_id: int | None,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> Notification:
    """Queue a notification for ``user_id`` in the caller's transaction (not committed)."""
    row = Notification(
        tenant_id=tenant_id,
        user_id=user_id,
        kind=kind,
        title=title[:200],
        body=body,
        data=dict(data or {}),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    add_event(
        session,
        "notification.created",
        {"notification_id": row.id, "user_id": user_id, "kind": kind},
        tenant_id=tenant_id,
    )
    return row


ADMIN_ROLES = ("tenant_owner", "tenant_admin", "individual")


async def administrators(session: AsyncSession, tenant_id: int) -> list[int]:
    """The account's active owners and administrators (an individual is their own)."""
    rows = await session.execute(
        select(User.id).where(
            User.tenant_id == tenant_id, User.role.in_(ADMIN_ROLES), User.is_active.is_(True)
        )
    )
    return sorted(rows.scalars())


async def recipients(session: AsyncSession, tenant_id: int, user_id: int | None) -> list[int]:
    """Who hears about a tenant's order: the user who placed it, else the account's owners."""
    if user_id is not None:
        user = await session.get(User, user_id)
        if user is not None and user.is_active and user.tenant_id == tenant_id:
            return [user.id]
    owners = await session.execute(
        select(User.id).where(
            User.tenant_id == tenant_id,
            User.role.in_(("tenant_owner", "individual")),
            User.is_active.is_(True),
        )
    )
    return list(owners.scalars())


class NotificationService:
    async def list(
        self, session: AsyncSession, actor: Actor, q: ListQuery, *, unread: bool = False
    ) -> Page:
        stmt = select(Notification).where(Notification.user_id == actor.user_id)
        if unread:
            stmt = stmt.where(Notification.read_at.is_(None))
        return await paginate(
            session,
            stmt,
            q,
            sortable={"id": Notification.id, "created_at": Notification.created_at},
            searchable=[Notification.title, Notification.body],
            default_sort="-id",
        )

    async def unread_count(self, session: AsyncSession, actor: Actor) -> int:
        count = await session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == actor.user_id, Notification.read_at.is_(None)
            )
        )
        return int(count or 0)

    async def mark_read(self, session: AsyncSession, actor: Actor, ident: int) -> Notification:
        row = await session.get(Notification, ident)
        if row is None or row.user_id != actor.user_id:
            raise NotFound(f"notifications {ident} not found")
        if row.read_at is None:
            row.read_at = utcnow()
            await session.commit()
        return row

    async def mark_all_read(
        self, session: AsyncSession, actor: Actor, ids: Sequence[int] | None = None
    ) -> int:
        stmt = (
            update(Notification)
            .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if ids is not None:
            stmt = stmt.where(Notification.id.in_(list(ids)))
        result = await session.execute(stmt)
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["KINDS", "NotificationService", "administrators", "notify", "recipients"]
