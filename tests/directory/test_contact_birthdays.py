"""Contacts' birthdays: set, changed and cleared through the API; reminded on the day, once
a year, to the contact's owner (a company-wide contact: the company's owner); 29 February on
28 February of other years (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from apitest import Api
from clickphone.db import Database
from clickphone.db.models import Notification
from clickphone.directory.birthdays import birthday_keys, remind_birthdays


def test_birthday_keys() -> None:
    assert birthday_keys(date(2027, 3, 5)) == [305]
    assert birthday_keys(date(2027, 2, 28)) == [228, 229]  # not a leap year
    assert birthday_keys(date(2028, 2, 28)) == [228]
    assert birthday_keys(date(2028, 2, 29)) == [229]


async def test_birthday_reminders(api: Api, database: Database) -> None:
    owner = await api.signup_company("Bday Co", "owner@bday.example.com")
    r = await owner.post(
        "/api/v1/employees",
        json={"full_name": "Ann", "email": "ann@bday.example.com", "password": "password123"},
    )
    ann_user = r.json()["user_id"]
    owner_user = (await owner.get("/api/v1/me")).json()["user"]["id"]
    ann = await api.signin("ann@bday.example.com", "password123")

    r = await ann.post("/api/v1/contacts", json={"name": "Mom", "birthday": "1960-03-05"})
    assert r.status_code == 201, r.text
    mom = r.json()
    assert mom["birthday"] == "1960-03-05"
    r = await owner.post(
        "/api/v1/contacts", json={"name": "Big Client", "birthday": "1980-02-29", "shared": True}
    )
    client = r.json()
    r = await ann.post("/api/v1/contacts", json={"name": "No date"})
    assert r.json()["birthday"] is None

    assert await remind_birthdays(database, date(2027, 3, 4)) == 0
    assert await remind_birthdays(database, date(2027, 3, 5)) == 1
    assert await remind_birthdays(database, date(2027, 3, 5)) == 0  # once
    assert await remind_birthdays(database, date(2027, 2, 28)) == 1  # 29 Feb, not a leap year
    async with database.session() as s:
        notes = list((await s.execute(select(Notification).order_by(Notification.id))).scalars())
    assert [(n.user_id, n.kind, n.title) for n in notes] == [
        (ann_user, "contact.birthday", "Mom has a birthday today (67)"),
        (owner_user, "contact.birthday", "Big Client has a birthday today (47)"),
    ]
    assert notes[0].data == {"contact_id": mom["id"], "name": "Mom", "age": 67}

    # next year again; a changed date is reminded on its new day; a cleared one never
    assert await remind_birthdays(database, date(2028, 3, 5)) == 1
    r = await ann.patch(f"/api/v1/contacts/{mom['id']}", json={"birthday": "1960-04-01"})
    assert r.json()["birthday"] == "1960-04-01"
    assert await remind_birthdays(database, date(2028, 4, 1)) == 1
    r = await owner.patch(f"/api/v1/contacts/{client['id']}", json={"birthday": None})
    assert r.status_code == 200 and r.json()["birthday"] is None
    assert await remind_birthdays(database, date(2029, 2, 28)) == 0
    # a patch without the field keeps it
    r = await ann.patch(f"/api/v1/contacts/{mom['id']}", json={"notes": "call her"})
    assert r.json()["birthday"] == "1960-04-01"
