"""Conversations and messages: validate, persist, then notify.

Every message is written in the same transaction as its outbox event, so a crash loses
neither the message nor the news of it:

- ``message.created`` ``{message_id, conversation_id, channel, direction, status, user_ids}``
  when a message is stored (the cabinet refetches; ``user_ids`` are the conversation's
  members, the only users the live socket shows it to);
- ``message.status`` ``{message_id, conversation_id, status, user_ids}`` when it changes;
- ``message.queued`` ``{message_id}`` when an SMS is ready to go out: the SMS gateway
  (:mod:`.gateway`) takes it from there.

Threads: ``direct`` (two colleagues, one per pair), ``group`` (named, members added and
removed), ``sms`` (one of our numbers — the *line* — and one phone number; its members are
the line's owner, or the company's administrators for a shared line, and whoever wrote from
it). Chat messages are ``sent`` when stored and ``delivered`` once another member has opened
the conversation; SMS go ``queued`` → ``sending`` → ``sent`` → ``delivered`` / ``failed``
with the carrier's receipts. A message due later is ``scheduled`` until its time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import ValidationFailed
from clickphone.accounts.scope import Actor
from clickphone.bus.outbox import add_event
from clickphone.db.models import (
    Contact,
    ContactNumber,
    Conversation,
    ConversationMember,
    Employee,
    Message,
    MessageCampaign,
    PhoneNumber,
    User,
    utcnow,
)
from clickphone.messaging.errors import (
    ConversationNotFound,
    MessageNotFound,
    NoLine,
    NotAllowed,
    NumberRefused,
)
from clickphone.messaging.gsm import segments, transliterate
from clickphone.notifications.service import administrators
from clickphone.trunks.service import check_outbound

CHAT_MAX = 4000
SMS_MAX = 1000
PENDING = ("scheduled", "queued", "sending")


def direct_key(a: int, b: int) -> str:
    return f"direct:{min(a, b)}:{max(a, b)}"


def sms_key(line: str, number: str) -> str:
    return f"sms:{line}:{number}"


def line_of(conv: Conversation) -> str | None:
    if conv.kind != "sms" or not conv.key:
        return None
    return conv.key.split(":")[1]


def sms_text(text: str, translit: bool) -> tuple[str, int]:
    """The text that goes out (transliterated when asked) and its number of SMS parts."""
    out = transliterate(text) if translit else text
    return out, len(segments(out).parts)


async def member_ids(session: AsyncSession, conversation_id: int) -> list[int]:
    rows = await session.execute(
        select(ConversationMember.user_id).where(
            ConversationMember.conversation_id == conversation_id
        )
    )
    return sorted(rows.scalars())


async def _add_members(session: AsyncSession, conv: Conversation, user_ids: Iterable[int]) -> None:
    have = set(await member_ids(session, conv.id))
    now = utcnow()
    for uid in sorted(set(user_ids) - have):
        # what was said before someone joined is not "unread" for them
        session.add(
            ConversationMember(
                conversation_id=conv.id, user_id=uid, joined_at=now, last_read_at=now
            )
        )
    await session.flush()


async def _tenant_users(
    session: AsyncSession, tenant_id: int, user_ids: Iterable[int]
) -> list[int]:
    """Those of ``user_ids`` that are active users of the tenant."""
    wanted = set(user_ids)
    if not wanted:
        return []
    rows = await session.execute(
        select(User.id).where(
            User.id.in_(wanted), User.tenant_id == tenant_id, User.is_active.is_(True)
        )
    )
    return sorted(rows.scalars())


async def line_recipients(session: AsyncSession, number: PhoneNumber) -> list[int]:
    """Who reads SMS that arrive on ``number``: its user, its employee's user, else the
    company's owners and administrators."""
    assert number.tenant_id is not None
    if number.user_id is not None:
        return [number.user_id]
    if number.employee_id is not None:
        emp = await session.get(Employee, number.employee_id)
        if emp is not None:
            return [emp.user_id]
    return await administrators(session, number.tenant_id)


def emit(
    session: AsyncSession, type_: str, msg: Message, user_ids: Sequence[int], **extra: Any
) -> None:
    add_event(
        session,
        type_,
        {
            "message_id": msg.id,
            "conversation_id": msg.conversation_id,
            "channel": msg.channel,
            "direction": msg.direction,
            "status": msg.status,
            "user_ids": list(user_ids),
            **extra,
        },
        tenant_id=msg.tenant_id,
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """What a user asks to send."""

    text: str
    translit: bool = False
    scheduled_at: datetime | None = None
    attachment: dict[str, Any] | None = None
    campaign_id: int | None = None


class MessagingService:
    # -- lines (our numbers SMS go out from) ----------------------------------------------

    async def lines(self, session: AsyncSession, actor: Actor) -> list[PhoneNumber]:
        """The tenant's numbers the actor may send SMS from: their own (or their extension's)
        and the company's shared ones; administrators may use every number."""
        if actor.tenant_id is None:
            return []
        stmt = select(PhoneNumber).where(
            PhoneNumber.tenant_id == actor.tenant_id, PhoneNumber.state == "assigned"
        )
        if not actor.is_tenant_admin and actor.role != "individual":
            emp = select(Employee.id).where(Employee.user_id == actor.user_id)
            stmt = stmt.where(
                or_(
                    PhoneNumber.user_id == actor.user_id,
                    PhoneNumber.employee_id.in_(emp),
                    and_(PhoneNumber.user_id.is_(None), PhoneNumber.employee_id.is_(None)),
                )
            )
        rows = list((await session.execute(stmt.order_by(PhoneNumber.e164))).scalars())
        # the actor's own numbers first
        rows.sort(key=lambda n: (n.user_id != actor.user_id and n.employee_id is None, n.e164))
        return rows

    async def pick_line(self, session: AsyncSession, actor: Actor, wanted: str | None) -> str:
        lines = [n.e164 for n in await self.lines(session, actor)]
        if wanted:
            if wanted not in lines:
                raise ValidationFailed({"line": "not a number you may send SMS from"})
            return wanted
        if not lines:
            raise NoLine()
        return lines[0]

    # -- conversations --------------------------------------------------------------------

    async def get(self, session: AsyncSession, actor: Actor, conversation_id: int) -> Conversation:
        """A conversation the actor is a member of (anything else is "not found")."""
        conv = await session.get(Conversation, conversation_id)
        if conv is None or conv.deleted_at is not None or conv.tenant_id != actor.tenant_id:
            raise ConversationNotFound()
        if actor.user_id not in await member_ids(session, conv.id):
            raise ConversationNotFound()
        return conv

    async def _keyed(
        self, session: AsyncSession, tenant_id: int, key: str, **fields: Any
    ) -> Conversation:
        conv = await session.scalar(
            select(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.key == key)
        )
        if conv is None:
            conv = Conversation(tenant_id=tenant_id, key=key, created_at=utcnow(), **fields)
            session.add(conv)
            await session.flush()
        return conv

    async def open_direct(self, session: AsyncSession, actor: Actor, user_id: int) -> Conversation:
        assert actor.tenant_id is not None
        if user_id == actor.user_id or not await _tenant_users(session, actor.tenant_id, [user_id]):
            raise ValidationFailed({"user_id": "not a colleague you can write to"})
        conv = await self._keyed(
            session,
            actor.tenant_id,
            direct_key(actor.user_id, user_id),
            kind="direct",
            created_by_user_id=actor.user_id,
        )
        await _add_members(session, conv, [actor.user_id, user_id])
        return conv

    async def create_group(
        self, session: AsyncSession, actor: Actor, title: str, user_ids: Sequence[int]
    ) -> Conversation:
        assert actor.tenant_id is not None
        actor.require_company_member()
        members = await _tenant_users(session, actor.tenant_id, user_ids)
        if len(members) != len(set(user_ids)):
            raise ValidationFailed({"user_ids": "only active colleagues can be members"})
        conv = Conversation(
            tenant_id=actor.tenant_id,
            kind="group",
            title=title,
            created_by_user_id=actor.user_id,
            created_at=utcnow(),
        )
        session.add(conv)
        await session.flush()
        await _add_members(session, conv, [actor.user_id, *members])
        return conv

    async def open_sms(
        self, session: AsyncSession, actor: Actor, raw_number: str, line: str | None = None
    ) -> Conversation:
        assert actor.tenant_id is not None
        number = await self.check_number(session, actor.tenant_id, raw_number)
        chosen = await self.pick_line(session, actor, line)
        conv = await self._keyed(
            session,
            actor.tenant_id,
            sms_key(chosen, number),
            kind="sms",
            external_number=number,
            created_by_user_id=actor.user_id,
        )
        await _add_members(session, conv, [actor.user_id])
        return conv

    async def check_number(self, session: AsyncSession, tenant_id: int, raw: str) -> str:
        e164, refusal = await check_outbound(session, tenant_id, raw)
        if refusal == "not_a_number":
            raise ValidationFailed({"number": "not a phone number"})
        if refusal:
            raise NumberRefused(
                "this number is blacklisted"
                if refusal == "blocked"
                else "SMS to this country are not allowed",
                details={"reason": refusal},
            )
        assert e164 is not None
        return e164

    async def change_members(
        self,
        session: AsyncSession,
        actor: Actor,
        conv: Conversation,
        *,
        add: Sequence[int] = (),
        remove: Sequence[int] = (),
    ) -> list[int]:
        """Group chats only: anyone in the group may add colleagues; members may leave, the
        creator and administrators may remove anyone."""
        if conv.kind != "group":
            raise NotAllowed("only group chats have members to change")
        assert actor.tenant_id is not None
        if add:
            valid = await _tenant_users(session, actor.tenant_id, add)
            if len(valid) != len(set(add)):
                raise ValidationFailed({"user_ids": "only active colleagues can be members"})
            await _add_members(session, conv, valid)
        for uid in remove:
            if uid != actor.user_id and not (
                actor.user_id == conv.created_by_user_id or actor.is_tenant_admin
            ):
                raise NotAllowed("only the group's creator or an administrator removes others")
            await session.execute(
                delete(ConversationMember).where(
                    ConversationMember.conversation_id == conv.id,
                    ConversationMember.user_id == uid,
                )
            )
        members = await member_ids(session, conv.id)
        add_event(
            session,
            "message.conversation",
            {"conversation_id": conv.id, "user_ids": sorted({*members, *remove})},
            tenant_id=conv.tenant_id,
        )
        return members

    async def delete_group(self, session: AsyncSession, actor: Actor, conv: Conversation) -> None:
        if conv.kind != "group":
            raise NotAllowed("only group chats can be deleted")
        if actor.user_id != conv.created_by_user_id and not actor.is_tenant_admin:
            raise NotAllowed("only the group's creator or an administrator deletes it")
        conv.deleted_at = utcnow()
        add_event(
            session,
            "message.conversation",
            {"conversation_id": conv.id, "user_ids": await member_ids(session, conv.id)},
            tenant_id=conv.tenant_id,
        )

    async def list_conversations(
        self, session: AsyncSession, actor: Actor, only: int | None = None
    ) -> list[dict[str, Any]]:
        """The actor's conversations (or just ``only``), most recent first, with members, the
        SMS partner's contact, the last message and the unread count."""
        stmt = (
            select(Conversation, ConversationMember.last_read_at)
            .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
            .where(
                ConversationMember.user_id == actor.user_id,
                Conversation.tenant_id == actor.tenant_id,
                Conversation.deleted_at.is_(None),
            )
        )
        if only is not None:
            stmt = stmt.where(Conversation.id == only)
        mine = (await session.execute(stmt)).all()
        if not mine:
            return []
        ids = [c.id for c, _ in mine]
        members: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        rows = await session.execute(
            select(ConversationMember.conversation_id, User.id, User.full_name, Employee.extension)
            .join(User, User.id == ConversationMember.user_id)
            .outerjoin(Employee, Employee.user_id == User.id)
            .where(ConversationMember.conversation_id.in_(ids))
            .order_by(User.full_name)
        )
        for cid, uid, name, ext in rows:
            members[cid].append({"user_id": uid, "full_name": name, "extension": ext})
        last = await self._last_messages(session, ids)
        unread = await self._unread(session, actor, [(c.id, read) for c, read in mine])
        contacts = await self.contacts_for(
            session, actor, [c.external_number for c, _ in mine if c.external_number]
        )
        out: list[dict[str, Any]] = []
        for conv, _read in mine:
            out.append(
                {
                    "id": conv.id,
                    "kind": conv.kind,
                    "title": conv.title,
                    "external_number": conv.external_number,
                    "line": line_of(conv),
                    "contact": contacts.get(conv.external_number or ""),
                    "members": members[conv.id],
                    "created_by_user_id": conv.created_by_user_id,
                    "last_message": last.get(conv.id),
                    "last_message_at": conv.last_message_at,
                    "unread": unread.get(conv.id, 0),
                    "created_at": conv.created_at,
                }
            )
        when = {c.id: c.last_message_at or c.created_at for c, _ in mine}
        out.sort(key=lambda c: when[c["id"]], reverse=True)
        return out

    async def _last_messages(self, session: AsyncSession, ids: list[int]) -> dict[int, Message]:
        ranked = (
            select(
                Message.id,
                func.row_number()
                .over(partition_by=Message.conversation_id, order_by=Message.created_at.desc())
                .label("n"),
            )
            .where(Message.conversation_id.in_(ids), Message.status != "scheduled")
            .subquery()
        )
        rows = await session.execute(
            select(Message).join(ranked, ranked.c.id == Message.id).where(ranked.c.n == 1)
        )
        return {m.conversation_id: m for m in rows.scalars()}

    async def _unread(
        self, session: AsyncSession, actor: Actor, reads: list[tuple[int, datetime | None]]
    ) -> dict[int, int]:
        out: dict[int, int] = {}
        conds = [
            and_(
                Message.conversation_id == cid,
                Message.created_at > read if read is not None else Message.id.is_not(None),
            )
            for cid, read in reads
        ]
        for chunk in range(0, len(conds), 200):
            rows = await session.execute(
                select(Message.conversation_id, func.count())
                .where(
                    or_(*conds[chunk : chunk + 200]),
                    or_(Message.sender_user_id.is_(None), Message.sender_user_id != actor.user_id),
                    Message.status.not_in(("scheduled", "cancelled")),
                    Message.deleted_at.is_(None),
                )
                .group_by(Message.conversation_id)
            )
            out.update({cid: n for cid, n in rows})
        return out

    async def unread_total(self, session: AsyncSession, actor: Actor) -> int:
        reads = (
            await session.execute(
                select(ConversationMember.conversation_id, ConversationMember.last_read_at)
                .join(Conversation, Conversation.id == ConversationMember.conversation_id)
                .where(
                    ConversationMember.user_id == actor.user_id, Conversation.deleted_at.is_(None)
                )
            )
        ).all()
        if not reads:
            return 0
        counts = await self._unread(session, actor, [(c, r) for c, r in reads])
        return sum(counts.values())

    async def contacts_for(
        self, session: AsyncSession, actor: Actor, numbers: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """The contacts the actor sees (company-wide or their own) holding these numbers:
        a person with several numbers is one partner (same contact id)."""
        wanted = sorted(set(numbers))
        if not wanted:
            return {}
        rows = await session.execute(
            select(ContactNumber.number, Contact.id, Contact.name)
            .join(Contact, Contact.id == ContactNumber.contact_id)
            .where(
                ContactNumber.number.in_(wanted),
                Contact.tenant_id == actor.tenant_id,
                or_(Contact.owner_user_id.is_(None), Contact.owner_user_id == actor.user_id),
            )
            .order_by(Contact.owner_user_id.is_(None), Contact.id)
        )
        out: dict[str, dict[str, Any]] = {}
        for number, cid, name in rows:
            out.setdefault(number, {"id": cid, "name": name})
        return out

    # -- messages -------------------------------------------------------------------------

    async def post(
        self, session: AsyncSession, actor: Actor, conv: Conversation, draft: Draft
    ) -> Message:
        """Store a message in ``conv`` (chat, or an SMS for an SMS thread) with its event."""
        now = utcnow()
        text = draft.text.strip()
        scheduled = draft.scheduled_at if draft.scheduled_at and draft.scheduled_at > now else None
        if conv.kind == "sms":
            if not text:
                raise ValidationFailed({"text": "an SMS needs text"})
            if len(text) > SMS_MAX:
                raise ValidationFailed({"text": f"an SMS is at most {SMS_MAX} characters"})
            if draft.attachment:
                raise ValidationFailed({"file": "files go to colleagues, not by SMS"})
            body, parts = sms_text(text, draft.translit)
            msg = Message(
                tenant_id=conv.tenant_id,
                conversation_id=conv.id,
                channel="sms",
                direction="outgoing",
                sender_user_id=actor.user_id,
                external_number=conv.external_number,
                line=line_of(conv),
                body=body,
                translit=draft.translit,
                parts=parts,
                status="scheduled" if scheduled else "queued",
            )
        else:
            if not text and not draft.attachment:
                raise ValidationFailed({"text": "write something or attach a file"})
            if len(text) > CHAT_MAX:
                raise ValidationFailed({"text": f"a message is at most {CHAT_MAX} characters"})
            msg = Message(
                tenant_id=conv.tenant_id,
                conversation_id=conv.id,
                channel="chat",
                direction="internal",
                sender_user_id=actor.user_id,
                body=transliterate(text) if draft.translit else text,
                translit=draft.translit,
                kind="file" if draft.attachment else "text",
                attachment=draft.attachment,
                status="scheduled" if scheduled else "sent",
                sent_at=None if scheduled else now,
            )
        msg.scheduled_at = scheduled
        msg.campaign_id = draft.campaign_id
        # a delayed message takes its place in the thread (and in the history's days) at
        # its time
        msg.created_at = scheduled or now
        session.add(msg)
        await session.flush()
        if not scheduled:
            await self._published(session, conv, msg)
        return msg

    async def _published(self, session: AsyncSession, conv: Conversation, msg: Message) -> None:
        """The message is visible now: bump the thread, tell its members, queue an SMS."""
        conv.last_message_at = msg.created_at
        members = await member_ids(session, conv.id)
        emit(session, "message.created", msg, members)
        if msg.status == "queued":
            add_event(session, "message.queued", {"message_id": msg.id}, tenant_id=msg.tenant_id)

    async def release_due(self, session: AsyncSession, now: datetime, limit: int = 500) -> int:
        """Scheduled messages whose time has come go out (delayed sending)."""
        due = list(
            (
                await session.execute(
                    select(Message)
                    .where(Message.status == "scheduled", Message.scheduled_at <= now)
                    .order_by(Message.scheduled_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        for msg in due:
            conv = await session.get(Conversation, msg.conversation_id)
            if conv is None:
                continue
            if msg.channel == "sms":
                msg.status = "queued"
            else:
                msg.status, msg.sent_at = "sent", now
            await self._published(session, conv, msg)
        return len(due)

    async def history(
        self,
        session: AsyncSession,
        actor: Actor,
        conv: Conversation,
        *,
        before: datetime | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """The conversation's messages, oldest first (the newest ``limit`` before ``before``);
        reading them marks the conversation read and others' chat messages delivered."""
        stmt = select(Message).where(Message.conversation_id == conv.id)
        stmt = stmt.where(
            or_(Message.status != "scheduled", Message.sender_user_id == actor.user_id)
        )
        if before is not None:
            stmt = stmt.where(Message.created_at < before)
        rows = list(
            (await session.execute(stmt.order_by(Message.created_at.desc()).limit(limit))).scalars()
        )
        rows.reverse()
        now = utcnow()
        await session.execute(
            update(ConversationMember)
            .where(
                ConversationMember.conversation_id == conv.id,
                ConversationMember.user_id == actor.user_id,
            )
            .values(last_read_at=now)
        )
        fresh = [
            m
            for m in rows
            if m.channel == "chat" and m.status == "sent" and m.sender_user_id != actor.user_id
        ]
        if fresh:
            members = await member_ids(session, conv.id)
            for m in fresh:
                m.status, m.delivered_at = "delivered", now
                emit(session, "message.status", m, members)
        return rows

    async def message_for(self, session: AsyncSession, actor: Actor, message_id: str) -> Message:
        msg = await session.get(Message, message_id)
        if msg is None or msg.tenant_id != actor.tenant_id:
            raise MessageNotFound()
        if actor.user_id not in await member_ids(session, msg.conversation_id):
            raise MessageNotFound()
        if msg.status == "scheduled" and msg.sender_user_id != actor.user_id:
            raise MessageNotFound()
        return msg

    async def delete(self, session: AsyncSession, actor: Actor, message_id: str) -> Message:
        """The sender deletes a sent message: its text and file are gone for everyone, the
        record stays (history, statistics); a scheduled one is cancelled."""
        msg = await self.message_for(session, actor, message_id)
        if msg.sender_user_id != actor.user_id:
            raise NotAllowed("you can delete only messages you sent")
        if msg.status == "scheduled":
            msg.status = "cancelled"
        msg.deleted_at = utcnow()
        msg.body = ""
        emit(session, "message.status", msg, await member_ids(session, msg.conversation_id))
        return msg

    # -- incoming SMS ---------------------------------------------------------------------

    async def receive_sms(
        self, session: AsyncSession, line: str, source: str, text: str
    ) -> Message | None:
        """An SMS from ``source`` to our number ``line``; None when the number is not ours."""
        number = await session.scalar(
            select(PhoneNumber).where(PhoneNumber.e164 == line, PhoneNumber.state == "assigned")
        )
        if number is None or number.tenant_id is None:
            return None
        conv = await self._keyed(
            session, number.tenant_id, sms_key(line, source), kind="sms", external_number=source
        )
        await _add_members(session, conv, await line_recipients(session, number))
        now = utcnow()
        msg = Message(
            tenant_id=number.tenant_id,
            conversation_id=conv.id,
            channel="sms",
            direction="incoming",
            external_number=source,
            line=line,
            body=text,
            parts=len(segments(text).parts) if text else 1,
            status="received",
            created_at=now,
            sent_at=now,
            delivered_at=now,
        )
        session.add(msg)
        await session.flush()
        await self._published(session, conv, msg)
        return msg

    # -- mass mailings --------------------------------------------------------------------

    async def start_campaign(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        channel: str,
        name: str,
        text: str,
        numbers: Sequence[str] = (),
        user_ids: Sequence[int] = (),
        line: str | None = None,
        translit: bool = False,
        scheduled_at: datetime | None = None,
        repeat_of: int | None = None,
    ) -> MessageCampaign:
        """One message per recipient (SMS to numbers, or chat to colleagues), now or later."""
        assert actor.tenant_id is not None
        chosen = await self.pick_line(session, actor, line) if channel == "sms" else None
        camp = MessageCampaign(
            tenant_id=actor.tenant_id,
            created_by_user_id=actor.user_id,
            channel=channel,
            name=name,
            body=text,
            line=chosen,
            translit=translit,
            scheduled_at=scheduled_at,
            status="scheduled",
            repeat_of=repeat_of,
            created_at=utcnow(),
        )
        session.add(camp)
        await session.flush()
        draft = Draft(text, translit, scheduled_at, None, camp.id)
        if channel == "sms":
            for raw in dict.fromkeys(numbers):
                conv = await self.open_sms(session, actor, raw, chosen)
                await self.post(session, actor, conv, draft)
        else:
            for uid in dict.fromkeys(user_ids):
                if uid == actor.user_id:
                    continue
                conv = await self.open_direct(session, actor, uid)
                await self.post(session, actor, conv, draft)
        return camp

    async def campaign(
        self, session: AsyncSession, actor: Actor, campaign_id: int
    ) -> MessageCampaign:
        camp = await session.get(MessageCampaign, campaign_id)
        if camp is None or camp.tenant_id != actor.tenant_id:
            raise ConversationNotFound("no such mailing", error_id="messaging.campaign_not_found")
        if camp.created_by_user_id != actor.user_id and not actor.is_tenant_admin:
            raise ConversationNotFound("no such mailing", error_id="messaging.campaign_not_found")
        return camp

    async def campaign_messages(self, session: AsyncSession, campaign_id: int) -> list[Message]:
        rows = await session.execute(
            select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)
        )
        return list(rows.scalars())

    async def cancel_campaign(
        self, session: AsyncSession, actor: Actor, camp: MessageCampaign
    ) -> int:
        """Withdraw a mailing's messages that have not gone out yet."""
        result = await session.execute(
            update(Message)
            .where(Message.campaign_id == camp.id, Message.status == "scheduled")
            .values(status="cancelled")
        )
        camp.status = "cancelled"
        return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    def campaign_state(camp: MessageCampaign, counts: dict[str, int], now: datetime) -> str:
        if camp.status == "cancelled":
            return "cancelled"
        if counts.get("scheduled"):
            return "scheduled"
        if any(counts.get(s) for s in PENDING):
            return "sending"
        return "done"


__all__ = [
    "CHAT_MAX",
    "SMS_MAX",
    "Draft",
    "MessagingService",
    "direct_key",
    "emit",
    "line_of",
    "line_recipients",
    "member_ids",
    "sms_key",
    "sms_text",
]
