"""/api/v1/messages: chat with colleagues, SMS to and from phone numbers, mass mailings.

Conversations (``/messages/conversations``) are the signed-in user's threads: ``direct`` with
one colleague, ``group`` chats, and ``sms`` threads between one of the company's numbers (the
*line*) and a phone number. Posting to an SMS thread sends an SMS; ``POST /messages/sms``
opens the thread and sends in one step. Messages carry their delivery state (``sent``,
``delivered``, ``failed`` with the reason, ...); the live socket (``/api/v1/ws``) announces
``message.created`` / ``message.status`` to the conversation's members only.

The router's lifespan starts the :class:`~clickphone.messaging.gateway.SmsGateway`
(``services.extra["sms"]``): SMPP links of the trunks with an SMSC, delayed sending; and the
daily totals of the message history (:mod:`.rollup`).
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, EmailStr, Field, StringConstraints, field_validator
from sqlalchemy import select
from starlette.datastructures import UploadFile

from clickphone.accounts.errors import ValidationFailed
from clickphone.api.deps import CurrentActor, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, OrmModel
from clickphone.db.models import Conversation, MessageCampaign, User, new_event_id
from clickphone.mail import smtp_send
from clickphone.messaging.errors import MailUnavailable, MessageNotFound
from clickphone.messaging.gateway import SmsGateway
from clickphone.messaging.gsm import segments, transliterate
from clickphone.messaging.rollup import MessageRollupJob
from clickphone.messaging.service import CHAT_MAX, SMS_MAX, Draft, MessagingService

MAX_FILE_BYTES = 20 * 2**20


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    gateway = SmsGateway(
        services.database, services.bus, secret_key=services.settings.ensure_secret_key()
    )
    services.extra["sms"] = gateway
    rollup = MessageRollupJob(services.database)
    await gateway.start()
    await rollup.start()
    try:
        yield
    finally:
        await rollup.stop()
        await gateway.stop()


router = APIRouter(
    prefix="/messages", responses=ERROR_RESPONSES, tags=["messages"], lifespan=lifespan
)
service = MessagingService()

Text = Annotated[str, StringConstraints(max_length=CHAT_MAX)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# -- shapes ------------------------------------------------------------------------------


class MemberOut(BaseModel):
    user_id: int
    full_name: str
    extension: str | None


class ContactRef(BaseModel):
    id: int
    name: str


class MessageOut(OrmModel):
    id: str
    conversation_id: int
    channel: str
    direction: str
    sender_user_id: int | None
    sender_name: str | None = Field(
        None, description="in a thread's history: the sender's name (also after leaving)"
    )
    external_number: str | None
    line: str | None
    kind: str
    body: str
    attachment: dict[str, Any] | None = Field(None, description="name, size, mime of a file")
    translit: bool
    status: str
    error: str
    parts: int
    campaign_id: int | None
    cost: int | None
    scheduled_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    deleted_at: datetime | None

    @field_validator("attachment", mode="before")
    @classmethod
    def _public(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: value[k] for k in ("name", "size", "mime") if k in value}
        return value


class ConversationOut(BaseModel):
    id: int
    kind: str
    title: str
    external_number: str | None
    line: str | None
    contact: ContactRef | None
    members: list[MemberOut]
    created_by_user_id: int | None
    last_message: MessageOut | None
    last_message_at: datetime | None
    unread: int
    created_at: datetime


class ConversationIn(BaseModel):
    kind: Literal["direct", "group", "sms"]
    user_id: int | None = Field(None, description="direct: the colleague")
    title: Title | None = Field(None, description="group: its name")
    user_ids: list[int] = Field(default_factory=list, description="group: the first members")
    number: Number | None = Field(None, description="sms: the phone number")
    line: str | None = Field(None, description="sms: our number to write from")


class MembersIn(BaseModel):
    add: list[int] = Field(default_factory=list)
    remove: list[int] = Field(default_factory=list)


class MessageIn(BaseModel):
    text: Text = ""
    translit: bool = Field(False, description="send Cyrillic as Latin letters")
    scheduled_at: datetime | None = Field(None, description="send later (delayed sending)")


class SmsIn(MessageIn):
    to: Number
    line: str | None = None


class PreviewIn(BaseModel):
    text: Annotated[str, StringConstraints(max_length=SMS_MAX)]
    translit: bool = False


class PreviewOut(BaseModel):
    text: str
    parts: int
    encoding: Literal["gsm7", "ucs2"]
    characters: int


class LineOut(BaseModel):
    e164: str
    label: str
    own: bool


class UnreadOut(BaseModel):
    unread: int


class EmailIn(BaseModel):
    to: EmailStr | None = Field(None, description="default: your own address")


class EmailOut(BaseModel):
    sent_to: str


class CampaignIn(BaseModel):
    channel: Literal["sms", "chat"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=SMS_MAX)]
    numbers: list[Number] = Field(default_factory=list, description="sms: the recipients")
    user_ids: list[int] = Field(default_factory=list, description="chat: the colleagues")
    all_employees: bool = Field(False, description="chat: every colleague")
    line: str | None = None
    translit: bool = False
    scheduled_at: datetime | None = None

    @field_validator("numbers")
    @classmethod
    def _cap(cls, value: list[str]) -> list[str]:
        if len(value) > 10_000:
            raise ValueError("at most 10,000 recipients per mailing")
        return value


class RepeatIn(BaseModel):
    recipients: Literal["failed", "not_failed", "all"] = Field(
        "failed",
        description="failed: only those not delivered to; not_failed: everyone else "
        "(the undelivered excluded); all: everyone again",
    )
    scheduled_at: datetime | None = None


class RecipientOut(BaseModel):
    message_id: str
    number: str | None
    user_id: int | None
    status: str
    error: str
    conversation_id: int


class CampaignOut(BaseModel):
    id: int
    channel: str
    name: str
    body: str
    line: str | None
    translit: bool
    scheduled_at: datetime | None
    created_at: datetime
    status: str
    repeat_of: int | None
    counts: dict[str, int]
    recipients: list[RecipientOut] | None = None


# -- conversations -----------------------------------------------------------------------


async def _conversation_out(session: Any, actor: Any, conv_id: int) -> ConversationOut:
    found = await service.list_conversations(session, actor, only=conv_id)
    if found:
        return ConversationOut.model_validate(found[0], from_attributes=True)
    raise MessageNotFound("no such conversation", error_id="messaging.conversation_not_found")


@router.get("/conversations")
async def list_conversations(actor: CurrentActor, session: SessionDep) -> list[ConversationOut]:
    """Your conversations, most recent first, with unread counts."""
    rows = await service.list_conversations(session, actor)
    return [ConversationOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/conversations", status_code=status.HTTP_201_CREATED)
async def open_conversation(
    body: ConversationIn, actor: CurrentActor, session: SessionDep
) -> ConversationOut:
    """Open (or find) a direct chat or an SMS thread, or create a group chat."""
    if actor.tenant_id is None:
        raise ValidationFailed({"kind": "operator staff have no conversations"})
    if body.kind == "direct":
        if body.user_id is None:
            raise ValidationFailed({"user_id": "required"})
        conv = await service.open_direct(session, actor, body.user_id)
    elif body.kind == "group":
        if not body.title:
            raise ValidationFailed({"title": "required"})
        conv = await service.create_group(session, actor, body.title, body.user_ids)
    else:
        if not body.number:
            raise ValidationFailed({"number": "required"})
        conv = await service.open_sms(session, actor, body.number, body.line)
    await session.commit()
    return await _conversation_out(session, actor, conv.id)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: int, actor: CurrentActor, session: SessionDep
) -> ConversationOut:
    await service.get(session, actor, conversation_id)
    return await _conversation_out(session, actor, conversation_id)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    conversation_id: int, actor: CurrentActor, session: SessionDep
) -> None:
    """Delete a group chat (its creator or an administrator)."""
    conv = await service.get(session, actor, conversation_id)
    await service.delete_group(session, actor, conv)
    await session.commit()


@router.post("/conversations/{conversation_id}/members")
async def change_members(
    conversation_id: int, body: MembersIn, actor: CurrentActor, session: SessionDep
) -> list[int]:
    """Add colleagues to a group chat, or remove them (leave: remove yourself)."""
    conv = await service.get(session, actor, conversation_id)
    members = await service.change_members(session, actor, conv, add=body.add, remove=body.remove)
    await session.commit()
    return members


@router.get("/conversations/{conversation_id}/messages")
async def conversation_messages(
    conversation_id: int,
    actor: CurrentActor,
    session: SessionDep,
    before: Annotated[datetime | None, Query(description="older than this")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[MessageOut]:
    """The conversation's messages, oldest first; reading marks them read (and colleagues'
    chat messages delivered)."""
    conv = await service.get(session, actor, conversation_id)
    rows = await service.history(session, actor, conv, before=_aware(before), limit=limit)
    await session.commit()
    names: dict[int, str] = {}
    senders = {m.sender_user_id for m in rows if m.sender_user_id is not None}
    if senders:
        found = await session.execute(
            select(User.id, User.full_name, User.email).where(User.id.in_(senders))
        )
        names = {uid: name or email for uid, name, email in found}
    return [
        MessageOut.model_validate(m).model_copy(
            update={"sender_name": names.get(m.sender_user_id or 0)}
        )
        for m in rows
    ]


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def post_message(
    conversation_id: int, body: MessageIn, actor: CurrentActor, session: SessionDep
) -> MessageOut:
    """Write to the conversation: a chat message, or an SMS in an SMS thread."""
    conv = await service.get(session, actor, conversation_id)
    draft = Draft(body.text, body.translit, _aware(body.scheduled_at))
    msg = await service.post(session, actor, conv, draft)
    await session.commit()
    return MessageOut.model_validate(msg)


def _files_dir(data_dir: Path, tenant_id: int) -> Path:
    return data_dir / "messages" / str(tenant_id)


def _safe_name(name: str) -> str:
    name = Path(name or "file").name
    name = re.sub(r"[^\w.\- ()]+", "_", name).strip() or "file"
    return name[:150]


@router.post(
    "/conversations/{conversation_id}/files",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "text": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def post_file(
    conversation_id: int,
    request: Request,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> MessageOut:
    """Send a file (≤ 20 MB) to a chat, with an optional caption."""
    conv = await service.get(session, actor, conversation_id)
    if conv.kind == "sms":
        raise ValidationFailed({"file": "files go to colleagues, not by SMS"})
    if int(request.headers.get("content-length") or 0) > MAX_FILE_BYTES + 64 * 1024:
        raise ValidationFailed({"file": "at most 20 MB"})
    async with request.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed({"file": "attach a file"})
        caption = form.get("text")
        text = caption if isinstance(caption, str) else ""
        name = _safe_name(upload.filename or "file")
        data = await upload.read(MAX_FILE_BYTES + 1)
        mime = upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed({"file": "at most 20 MB"})
    if not data:
        raise ValidationFailed({"file": "the file is empty"})
    stored = f"{new_event_id()}-{name}"
    path = _files_dir(services.settings.data_dir, conv.tenant_id) / stored
    await asyncio.to_thread(_write, path, data)
    attachment = {"name": name, "size": len(data), "mime": mime, "path": stored}
    msg = await service.post(session, actor, conv, Draft(text[:CHAT_MAX], attachment=attachment))
    await session.commit()
    return MessageOut.model_validate(msg)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)


@router.get("/{message_id}/file", response_class=FileResponse)
async def download_file(
    message_id: str, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> FileResponse:
    msg = await service.message_for(session, actor, message_id)
    att = msg.attachment or {}
    if msg.deleted_at is not None or not att.get("path"):
        raise MessageNotFound("this message has no file", error_id="messaging.no_file")
    path = _files_dir(services.settings.data_dir, msg.tenant_id) / str(att["path"])
    if not path.is_file():
        raise MessageNotFound("the file is gone", error_id="messaging.no_file")
    return FileResponse(path, media_type=str(att.get("mime")), filename=str(att.get("name")))


@router.delete("/{message_id}")
async def delete_message(message_id: str, actor: CurrentActor, session: SessionDep) -> MessageOut:
    """Delete a message you sent (its text and file are removed for everyone)."""
    msg = await service.delete(session, actor, message_id)
    await session.commit()
    return MessageOut.model_validate(msg)


@router.post("/{message_id}/email")
async def email_message(
    message_id: str,
    body: EmailIn,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
) -> EmailOut:
    """Forward a message (with its file) to an e-mail address, by default your own."""
    settings = services.settings
    msg = await service.message_for(session, actor, message_id)
    if msg.deleted_at is not None:
        raise MessageNotFound()
    if not settings.smtp_configured:
        raise MailUnavailable()
    user = await session.get(User, actor.user_id)
    to = str(body.to or (user.email if user else ""))
    sender = "ClickPhone"
    if msg.sender_user_id is not None:
        who = await session.get(User, msg.sender_user_id)
        sender = who.full_name or who.email if who else sender
    elif msg.external_number:
        sender = msg.external_number
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = to
    mail["Subject"] = f"ClickPhone: message from {sender}"
    mail.set_content(f"{sender}, {msg.created_at:%d/%m/%Y %H:%M} UTC:\n\n{msg.body}\n")
    att = msg.attachment or {}
    if att.get("path"):
        path = _files_dir(settings.data_dir, msg.tenant_id) / str(att["path"])
        if path.is_file():
            maintype, _, subtype = str(att.get("mime") or "application/octet-stream").partition("/")
            mail.add_attachment(
                await asyncio.to_thread(path.read_bytes),
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=str(att.get("name") or "file"),
            )
    await smtp_send(settings, mail)
    return EmailOut(sent_to=to)


# -- SMS ---------------------------------------------------------------------------------


@router.post("/sms", status_code=status.HTTP_201_CREATED)
async def send_sms(body: SmsIn, actor: CurrentActor, session: SessionDep) -> MessageOut:
    """Send one SMS to a phone number (from ``line`` or your default number)."""
    if actor.tenant_id is None:
        raise ValidationFailed({"to": "operator staff send no SMS"})
    conv = await service.open_sms(session, actor, body.to, body.line)
    msg = await service.post(
        session, actor, conv, Draft(body.text, body.translit, _aware(body.scheduled_at))
    )
    await session.commit()
    return MessageOut.model_validate(msg)


@router.post("/sms/preview")
async def preview_sms(body: PreviewIn, _actor: CurrentActor) -> PreviewOut:
    """What would go out: the text (transliterated when asked) and how many SMS parts."""
    text = transliterate(body.text) if body.translit else body.text
    enc = segments(text)
    return PreviewOut(
        text=text,
        parts=len(enc.parts),
        encoding="ucs2" if enc.data_coding == 8 else "gsm7",
        characters=len(text),
    )


@router.get("/lines")
async def sms_lines(actor: CurrentActor, session: SessionDep) -> list[LineOut]:
    """The numbers you may send SMS from, yours first."""
    rows = await service.lines(session, actor)
    return [LineOut(e164=n.e164, label=n.label, own=n.user_id == actor.user_id) for n in rows]


@router.get("/unread")
async def unread(actor: CurrentActor, session: SessionDep) -> UnreadOut:
    """For the header's Messages button."""
    return UnreadOut(unread=await service.unread_total(session, actor))


# -- mass mailings -----------------------------------------------------------------------


async def _campaign_out(session: Any, camp: MessageCampaign, *, recipients: bool) -> CampaignOut:
    msgs = await service.campaign_messages(session, camp.id)
    counts: dict[str, int] = {}
    for m in msgs:
        counts[m.status] = counts.get(m.status, 0) + 1
    out = CampaignOut(
        id=camp.id,
        channel=camp.channel,
        name=camp.name,
        body=camp.body,
        line=camp.line,
        translit=camp.translit,
        scheduled_at=camp.scheduled_at,
        created_at=camp.created_at,
        status=service.campaign_state(camp, counts, datetime.now(UTC)),
        repeat_of=camp.repeat_of,
        counts=counts,
    )
    if recipients:
        direct: dict[int, int] = {}
        if camp.channel == "chat":
            rows = await session.execute(
                select(Conversation.id, Conversation.key).where(
                    Conversation.id.in_({m.conversation_id for m in msgs})
                )
            )
            for cid, key in rows:
                a, b = (int(x) for x in str(key).split(":")[1:3])
                direct[cid] = b if a == camp.created_by_user_id else a
        out.recipients = [
            RecipientOut(
                message_id=m.id,
                number=m.external_number,
                user_id=direct.get(m.conversation_id),
                status=m.status,
                error=m.error,
                conversation_id=m.conversation_id,
            )
            for m in msgs
        ]
    return out


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
async def create_campaign(
    body: CampaignIn, actor: CurrentActor, session: SessionDep
) -> CampaignOut:
    """A mass mailing: SMS to many numbers, or a chat message to many (or all) colleagues,
    now or at ``scheduled_at``."""
    if actor.tenant_id is None:
        raise ValidationFailed({"channel": "operator staff send no mailings"})
    user_ids = list(body.user_ids)
    if body.channel == "chat":
        actor.require_company_member()
        if body.all_employees:
            rows = await session.execute(
                select(User.id).where(User.tenant_id == actor.tenant_id, User.is_active.is_(True))
            )
            user_ids = list(rows.scalars())
        if not [u for u in user_ids if u != actor.user_id]:
            raise ValidationFailed({"user_ids": "choose at least one colleague"})
    elif not body.numbers:
        raise ValidationFailed({"numbers": "add at least one number"})
    camp = await service.start_campaign(
        session,
        actor,
        channel=body.channel,
        name=body.name,
        text=body.text,
        numbers=body.numbers,
        user_ids=user_ids,
        line=body.line,
        translit=body.translit,
        scheduled_at=_aware(body.scheduled_at),
    )
    await session.commit()
    return await _campaign_out(session, camp, recipients=True)


@router.get("/campaigns")
async def list_campaigns(actor: CurrentActor, session: SessionDep) -> list[CampaignOut]:
    """Your mailings (administrators: the company's), newest first."""
    stmt = select(MessageCampaign).where(MessageCampaign.tenant_id == actor.tenant_id)
    if not actor.is_tenant_admin:
        stmt = stmt.where(MessageCampaign.created_by_user_id == actor.user_id)
    rows = (await session.execute(stmt.order_by(MessageCampaign.id.desc()).limit(200))).scalars()
    return [await _campaign_out(session, c, recipients=False) for c in rows]


@router.get("/campaigns/{campaign_id}")
async def get_campaign(campaign_id: int, actor: CurrentActor, session: SessionDep) -> CampaignOut:
    """A mailing with every recipient's status."""
    camp = await service.campaign(session, actor, campaign_id)
    return await _campaign_out(session, camp, recipients=True)


@router.post("/campaigns/{campaign_id}/cancel")
async def cancel_campaign(
    campaign_id: int, actor: CurrentActor, session: SessionDep
) -> CampaignOut:
    """Withdraw the messages of a delayed mailing that have not gone out."""
    camp = await service.campaign(session, actor, campaign_id)
    await service.cancel_campaign(session, actor, camp)
    await session.commit()
    return await _campaign_out(session, camp, recipients=True)


@router.post("/campaigns/{campaign_id}/repeat", status_code=status.HTTP_201_CREATED)
async def repeat_campaign(
    campaign_id: int, body: RepeatIn, actor: CurrentActor, session: SessionDep
) -> CampaignOut:
    """Send the mailing again: to those it did not reach, to everyone but them, or to all."""
    camp = await service.campaign(session, actor, campaign_id)
    msgs = await service.campaign_messages(session, camp.id)
    if body.recipients == "failed":
        msgs = [m for m in msgs if m.status == "failed"]
    elif body.recipients == "not_failed":
        msgs = [m for m in msgs if m.status not in ("failed", "cancelled")]
    if not msgs:
        raise ValidationFailed({"recipients": "nobody to send to"})
    numbers = [m.external_number for m in msgs if m.external_number]
    user_ids: list[int] = []
    if camp.channel == "chat":
        detail = await _campaign_out(session, camp, recipients=True)
        wanted = {m.id for m in msgs}
        user_ids = [
            r.user_id for r in detail.recipients or [] if r.message_id in wanted and r.user_id
        ]
    new = await service.start_campaign(
        session,
        actor,
        channel=camp.channel,
        name=camp.name,
        text=camp.body,
        numbers=numbers,
        user_ids=user_ids,
        line=camp.line,
        translit=camp.translit,
        scheduled_at=_aware(body.scheduled_at),
        repeat_of=camp.id,
    )
    await session.commit()
    return await _campaign_out(session, new, recipients=True)


__all__ = ["router"]
