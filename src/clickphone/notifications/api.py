"""/api/v1/notifications: the signed-in user's notifications, newest first, and marking
them read. The router's lifespan starts the e-mail sender (:mod:`.mail`) and the contacts'
birthday reminders (:mod:`clickphone.directory.birthdays`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field

from clickphone.api.deps import CurrentActor, ListQueryDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, OrmModel, PageOut
from clickphone.directory.birthdays import BirthdayJob
from clickphone.notifications.mail import NotificationMailer
from clickphone.notifications.service import NotificationService


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    mailer = NotificationMailer(services.settings, services.database, services.bus)
    services.extra["notification_mailer"] = mailer
    birthdays = BirthdayJob(services.database)
    await mailer.start()
    await birthdays.start()
    try:
        yield
    finally:
        await birthdays.stop()
        await mailer.stop()


router = APIRouter(responses=ERROR_RESPONSES, tags=["notifications"], lifespan=lifespan)
service = NotificationService()


class NotificationOut(OrmModel):
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationPageOut(PageOut[NotificationOut]):
    unread: int = Field(description="the user's unread notifications in all")


class UnreadOut(BaseModel):
    unread: int


class MarkReadIn(BaseModel):
    ids: list[int] | None = Field(None, description="these only; empty: all")


@router.get("/notifications")
async def list_notifications(
    actor: CurrentActor,
    session: SessionDep,
    lq: ListQueryDep,
    unread: Annotated[bool, Query(description="unread ones only")] = False,
) -> NotificationPageOut:
    page = await service.list(session, actor, lq, unread=unread)
    return NotificationPageOut(
        items=[NotificationOut.model_validate(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        unread=await service.unread_count(session, actor),
    )


@router.get("/notifications/unread")
async def unread_notifications(actor: CurrentActor, session: SessionDep) -> UnreadOut:
    """How many unread notifications the user has (the cabinet header's badge)."""
    return UnreadOut(unread=await service.unread_count(session, actor))


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    notification_id: int, actor: CurrentActor, session: SessionDep
) -> NotificationOut:
    return NotificationOut.model_validate(await service.mark_read(session, actor, notification_id))


@router.post("/notifications/read")
async def mark_all_read(body: MarkReadIn, actor: CurrentActor, session: SessionDep) -> UnreadOut:
    """Mark the given (or all) notifications read; answers the remaining unread count."""
    await service.mark_all_read(session, actor, body.ids)
    return UnreadOut(unread=await service.unread_count(session, actor))
