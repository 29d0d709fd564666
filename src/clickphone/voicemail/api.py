"""/api/v1/voicemails: the voicemail inbox — list (newest first), listen (HTTP range
requests), mark read, delete. Employees see the voicemails of their own flows and of their
department's number; the company's owners and administrators see all of the company's. Read
state is the voicemail's, as in a shared mailbox: once someone has listened, it is read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from clickphone.accounts.errors import NotFound
from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, OrmModel, PageOut
from clickphone.voicemail.service import VoicemailService

router = APIRouter(prefix="/voicemails", responses=ERROR_RESPONSES, tags=["voicemail"])
service = VoicemailService()


class VoicemailOut(OrmModel):
    id: str = Field(description="the call's record id (see the call log)")
    owner_employee_id: int | None
    department_id: int | None
    caller: str
    caller_name: str
    callee: str
    seconds: float
    created_at: datetime
    read_at: datetime | None


class VoicemailPageOut(PageOut[VoicemailOut]):
    unread: int


class UnreadOut(BaseModel):
    unread: int


class VoicemailReadIn(BaseModel):
    ids: list[str] | None = Field(None, description="these only; empty: all")


@router.get("")
async def list_voicemails(
    actor: CurrentActor,
    session: SessionDep,
    q: ListQueryDep,
    unread: Annotated[bool, Query(description="only those not listened to")] = False,
) -> VoicemailPageOut:
    page = await service.list(session, actor, q, unread=unread)
    return VoicemailPageOut(
        items=[VoicemailOut.model_validate(v) for v in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        unread=await service.unread(session, actor),
    )


@router.get("/unread")
async def unread_voicemails(actor: CurrentActor, session: SessionDep) -> UnreadOut:
    return UnreadOut(unread=await service.unread(session, actor))


@router.get("/{voicemail_id}/audio", response_class=FileResponse)
async def voicemail_audio(
    voicemail_id: str, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> FileResponse:
    """The WAV (8 kHz); seeking works with range requests."""
    row = await service.get(session, actor, voicemail_id)
    path = services.settings.data_dir / row.path
    if not path.is_file():
        raise NotFound("the audio of this voicemail is gone", error_id="voicemail.not_found")
    return FileResponse(path, media_type="audio/wav", filename=f"voicemail-{row.id}.wav")


@router.post("/read")
async def mark_read(body: VoicemailReadIn, actor: CurrentActor, session: SessionDep) -> UnreadOut:
    await service.mark_read(session, actor, body.ids)
    await session.commit()
    return UnreadOut(unread=await service.unread(session, actor))


@router.post("/{voicemail_id}/read")
async def mark_one_read(
    voicemail_id: str, actor: CurrentActor, session: SessionDep
) -> VoicemailOut:
    row = await service.get(session, actor, voicemail_id)
    await service.mark_read(session, actor, [row.id])
    await session.commit()
    return VoicemailOut.model_validate(row)


@router.delete("/{voicemail_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_voicemail(
    voicemail_id: str, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> None:
    await service.delete(session, actor, voicemail_id, services.settings.data_dir)
    await session.commit()
