"""E-mail copies of notifications, sent from the ``notification.created`` event when SMTP is
configured (the same settings as password reset)."""

from __future__ import annotations

from collections import OrderedDict
from email.message import EmailMessage
from typing import Any

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.config import Settings
from clickphone.db.models import Notification, User
from clickphone.db.session import Database
from clickphone.logging import get_logger
from clickphone.mail import smtp_send

log = get_logger(__name__)

# Russian subject lines by kind (the English title is stored with the notification)
SUBJECTS_RU = {
    "store.approved": "Заявка одобрена",
    "store.rejected": "Заявка отклонена",
    "number.expired": "Срок временного номера истёк",
    "number.expiring": "Срок временного номера скоро истечёт",
    "store.requested": "Новая заявка в магазине",
    "message.failed": "SMS не доставлено",
    "voicemail.received": "Новое голосовое сообщение",
    "contact.birthday": "День рождения контакта",
}


def notification_message(settings: Settings, to: str, row: Notification) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    ru = SUBJECTS_RU.get(row.kind, "Уведомление")
    msg["Subject"] = f"ClickPhone: {ru} / {row.title}"
    link = f"{settings.effective_public_url}/"
    msg.set_content(
        f"{ru}.\n{row.body}\n\nЛичный кабинет: {link}\n\n---\n\n"
        f"{row.title}.\n{row.body}\n\nYour cabinet: {link}\n"
    )
    return msg


class NotificationMailer:
    """Subscribes to ``notification.created``; one mail per notification (events are
    delivered at least once, so recent ids are remembered)."""

    def __init__(self, settings: Settings, database: Database, bus: EventBus) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._unsubscribe: Any = None
        self.sent = 0

    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe("notification.created", self._on_created)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def _on_created(self, event: Event) -> None:
        if not self.settings.smtp_configured or event.id in self._seen:
            return
        self._seen[event.id] = None
        while len(self._seen) > 1000:
            self._seen.popitem(last=False)
        async with self.database.session() as session:
            row = await session.get(Notification, int(event.payload["notification_id"]))
            user = await session.get(User, row.user_id) if row is not None else None
            if row is None or user is None or not user.is_active:
                return
            message = notification_message(self.settings, user.email, row)
        try:
            await smtp_send(self.settings, message)
        except Exception as exc:
            log.error("notification.mail_failed", error=repr(exc), kind=row.kind)
        else:
            self.sent += 1
            log.info("notification.mail_sent", kind=row.kind)
