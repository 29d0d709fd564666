"""Contacts' birthdays: on the day, a reminder (notification ``contact.birthday``) to the
X

:class:`BirthdayJob` looks every hour (and at start) for today's birthdays (UTC) not reminded
of this year yet; a 29 February birthday is remembered on 28 February in other years.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

from sqlalchemy import or_, select

from clickphone.db.models import Contact
from clickphone.db.session import Database
from clickphone.jobs import PeriodicJob
from clickphone.notifications.service import notify, recipients


def birthday_keys(today: date) -> list[int]:
    keys = [today.month * 100 + today.day]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        keys.append(229)
    return keys


async def remind_birthdays(database: Database, today: date | None = None) -> int:
    """Send today's reminders; returns how many contacts were reminded of."""
    today = today or datetime.now(UTC).date()
    reminded = 0
    async with database.transaction() as session:
        rows = await session.execute(
            select(Contact)
            .where(
                Contact.birthday_md.in_(birthday_keys(today)),
                or_(
                    Contact.birthday_notified_year.is_(None),
                    Contact.birthday_notified_year != today.year,
                ),
            )
            .limit(5000)
        )
        for contact in rows.scalars():
            contact.birthday_notified_year = today.year
            users = await recipients(session, contact.tenant_id, contact.owner_user_id)
            born = contact.birthday
            age = today.year - born.year if born is not None and born.year > 1900 else None
            for uid in users:
                await notify(
                    session,
                    user_id=uid,
                    tenant_id=contact.tenant_id,
                    kind="contact.birthday",
                    title=f"{contact.name} has a birthday today" + (f" ({age})" if age else ""),
                    data={"contact_id": contact.id, "name": contact.name, "age": age},
                )
            reminded += 1
    return reminded


class BirthdayJob(PeriodicJob):
    def __init__(self, database: Database, *, interval: float = 3600.0) -> None:
        self.database = database
        super().__init__("birthdays", self.run, interval=interval, at_start=True)

    async def run(self) -> None:
        await remind_birthdays(self.database)


__all__ = ["BirthdayJob", "birthday_keys", "remind_birthdays"]
