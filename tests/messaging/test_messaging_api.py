"""Chat and SMS through the API: conversations, statuses, files, deletion, tenant isolation,
SMS validation and delayed sending, the message-history report and its exports
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import load_workbook
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.db import Database
from clickphone.db.models import Message, OutboxEvent, PhoneNumber, utcnow
from clickphone.messaging.service import MessagingService

M = "/api/v1/messages"


async def _company(api: Api, name: str, domain: str) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    owner = await api.signup_company(name, f"owner@{domain}")
    people: dict[str, Any] = {"owner": (await owner.get("/api/v1/me")).json()}
    for who, ext in (("ann", "401"), ("bob", "402")):
        r = await owner.post(
            "/api/v1/employees",
            json={
                "full_name": who.title(),
                "email": f"{who}@{domain}",
                "password": "password123",
                "extension": ext,
            },
        )
        assert r.status_code == 201, r.text
        people[who] = r.json()
    return owner, people


async def _events(database: Database, type_: str) -> list[dict[str, Any]]:
    async with database.session() as s:
        rows = await s.execute(select(OutboxEvent).where(OutboxEvent.type == type_))
        return [e.payload for e in rows.scalars()]


async def test_chat_between_colleagues(api: Api, database: Database) -> None:
    owner, people = await _company(api, "Chat Co", "chat.example.com")
    ann = await api.signin("ann@chat.example.com", "password123")
    bob = await api.signin("bob@chat.example.com", "password123")
    ann_id, bob_id = people["ann"]["user_id"], people["bob"]["user_id"]

    r = await ann.post(f"{M}/conversations", json={"kind": "direct", "user_id": bob_id})
    assert r.status_code == 201, r.text
    conv = r.json()
    assert conv["kind"] == "direct"
    assert {m["user_id"] for m in conv["members"]} == {ann_id, bob_id}
    # opening it again finds the same thread (from either side)
    again = await bob.post(f"{M}/conversations", json={"kind": "direct", "user_id": ann_id})
    assert again.json()["id"] == conv["id"]

    r = await ann.post(f"{M}/conversations/{conv['id']}/messages", json={"text": "Привет, Боб"})
    assert r.status_code == 201, r.text
    sent = r.json()
    assert (sent["channel"], sent["direction"], sent["status"]) == ("chat", "internal", "sent")
    created = await _events(database, "message.created")
    assert created[-1]["message_id"] == sent["id"]
    assert sorted(created[-1]["user_ids"]) == sorted([ann_id, bob_id])

    assert (await bob.get(f"{M}/unread")).json() == {"unread": 1}
    assert (await ann.get(f"{M}/unread")).json() == {"unread": 0}
    listed = (await bob.get(f"{M}/conversations")).json()
    assert listed[0]["unread"] == 1 and listed[0]["last_message"]["body"] == "Привет, Боб"

    # Bob reads: the message is delivered, his unread count drops
    msgs = (await bob.get(f"{M}/conversations/{conv['id']}/messages")).json()
    assert [m["body"] for m in msgs] == ["Привет, Боб"]
    assert msgs[0]["sender_name"] == "Ann"
    assert msgs[0]["status"] == "delivered"
    assert (await bob.get(f"{M}/unread")).json() == {"unread": 0}
    mine = (await ann.get(f"{M}/conversations/{conv['id']}/messages")).json()
    assert mine[0]["status"] == "delivered" and mine[0]["delivered_at"]
    status_events = await _events(database, "message.status")
    assert status_events[-1]["status"] == "delivered"

    # transliteration on
    r = await ann.post(
        f"{M}/conversations/{conv['id']}/messages", json={"text": "Щука", "translit": True}
    )
    assert r.json()["body"] == "Shchuka" and r.json()["translit"] is True

    # empty text is refused; only the sender deletes, and deleting removes the text
    r = await ann.post(f"{M}/conversations/{conv['id']}/messages", json={"text": "  "})
    assert_error(r, 422, "validation.failed")
    assert_error(await bob.delete(f"{M}/{sent['id']}"), 403, "messaging.not_allowed")
    r = await ann.delete(f"{M}/{sent['id']}")
    assert r.status_code == 200 and r.json()["body"] == "" and r.json()["deleted_at"]

    # files: upload, download by a member, refused to others
    r = await ann.post(
        f"{M}/conversations/{conv['id']}/files",
        files={"file": ("report.txt", b"quarterly numbers", "text/plain")},
        data={"text": "see attached"},
    )
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["kind"] == "file" and f["attachment"] == {
        "name": "report.txt",
        "size": 17,
        "mime": "text/plain",
    }
    got = await bob.get(f"{M}/{f['id']}/file")
    assert got.status_code == 200 and got.content == b"quarterly numbers"
    assert_error(await owner.get(f"{M}/{f['id']}/file"), 404, "messaging.message_not_found")

    # another company sees nothing and cannot write to Ann
    other, _ = await _company(api, "Other Co", "other.example.com")
    assert_error(
        await other.get(f"{M}/conversations/{conv['id']}/messages"),
        404,
        "messaging.conversation_not_found",
    )
    r = await other.post(f"{M}/conversations", json={"kind": "direct", "user_id": ann_id})
    assert_error(r, 422, "validation.failed")
    # nor does a colleague outside the conversation
    assert_error(
        await owner.get(f"{M}/conversations/{conv['id']}"), 404, "messaging.conversation_not_found"
    )


async def test_group_chat_members(api: Api) -> None:
    owner, people = await _company(api, "Group Co", "group.example.com")
    ann = await api.signin("ann@group.example.com", "password123")
    bob = await api.signin("bob@group.example.com", "password123")
    ann_id, bob_id = people["ann"]["user_id"], people["bob"]["user_id"]
    owner_id = people["owner"]["user"]["id"]

    r = await ann.post(
        f"{M}/conversations", json={"kind": "group", "title": "Sales", "user_ids": [bob_id]}
    )
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["title"] == "Sales"
    r = await bob.post(f"{M}/conversations/{group['id']}/members", json={"add": [owner_id]})
    assert sorted(r.json()) == sorted([ann_id, bob_id, owner_id])
    # Bob may not remove others, but may leave
    r = await bob.post(f"{M}/conversations/{group['id']}/members", json={"remove": [owner_id]})
    assert_error(r, 403, "messaging.not_allowed")
    r = await bob.post(f"{M}/conversations/{group['id']}/members", json={"remove": [bob_id]})
    assert sorted(r.json()) == sorted([ann_id, owner_id])
    assert_error(
        await bob.get(f"{M}/conversations/{group['id']}"), 404, "messaging.conversation_not_found"
    )
    await ann.post(f"{M}/conversations/{group['id']}/messages", json={"text": "hello team"})
    assert (await owner.get(f"{M}/unread")).json() == {"unread": 1}
    # only the creator (or an admin) deletes the group
    r = await ann.delete(f"{M}/conversations/{group['id']}")
    assert r.status_code == 204
    assert (await owner.get(f"{M}/conversations")).json() == []
    # a direct chat cannot be deleted as a group
    d = (await ann.post(f"{M}/conversations", json={"kind": "direct", "user_id": bob_id})).json()
    assert_error(await ann.delete(f"{M}/conversations/{d['id']}"), 403, "messaging.not_allowed")


async def _assign_number(database: Database, tenant_id: int, e164: str, **owner: Any) -> None:
    async with database.transaction() as s:
        s.add(PhoneNumber(e164=e164, tenant_id=tenant_id, state="assigned", **owner))


async def test_sms_validation_queueing_and_delay(api: Api, database: Database) -> None:
    owner, people = await _company(api, "Sms Co", "sms.example.com")
    tenant_id = people["owner"]["tenant"]["id"]
    ann = await api.signin("ann@sms.example.com", "password123")
    r = await ann.post(f"{M}/sms", json={"to": "+79161234567", "text": "hi"})
    assert_error(r, 422, "messaging.no_line")

    await _assign_number(database, tenant_id, "+74957000001")
    lines = (await ann.get(f"{M}/lines")).json()
    assert [x["e164"] for x in lines] == ["+74957000001"]

    r = await ann.post(f"{M}/sms", json={"to": "12", "text": "x"})
    assert_error(r, 422, "validation.failed")
    r = await owner.post("/api/v1/blocked-numbers", json={"pattern": "+7916*"})
    assert r.status_code == 201, r.text
    r = await ann.post(f"{M}/sms", json={"to": "+79161234567", "text": "hi"})
    body = assert_error(r, 422, "messaging.number_refused")
    assert body["details"]["reason"] == "blocked"
    r = await ann.post(f"{M}/sms", json={"to": "+4915112345678", "text": "hi"})
    assert assert_error(r, 422, "messaging.number_refused")["details"]["reason"] == "country"
    r = await ann.post(
        f"{M}/sms", json={"to": "+74951234567", "text": "hi", "line": "+74957000999"}
    )
    assert_error(r, 422, "validation.failed")

    # a national number is normalised; the SMS is queued with its outbox event
    r = await ann.post(f"{M}/sms", json={"to": "8 (495) 123-45-67", "text": "Ваш заказ готов"})
    assert r.status_code == 201, r.text
    sms = r.json()
    assert (sms["channel"], sms["direction"], sms["status"]) == ("sms", "outgoing", "queued")
    assert (sms["external_number"], sms["line"], sms["parts"]) == (
        "+74951234567",
        "+74957000001",
        1,
    )
    assert {"message_id": sms["id"]} in await _events(database, "message.queued")
    r = await ann.post(f"{M}/sms/preview", json={"text": "Ж" * 71})
    assert r.json() == {"text": "Ж" * 71, "parts": 2, "encoding": "ucs2", "characters": 71}
    r = await ann.post(f"{M}/sms/preview", json={"text": "Жук", "translit": True})
    assert r.json()["text"] == "Zhuk" and r.json()["encoding"] == "gsm7"

    # the SMS thread is the line's: the owner (an admin) reads incoming SMS on a shared line
    async with database.transaction() as s:
        got = await MessagingService().receive_sms(s, "+74957000001", "+74951234567", "Спасибо")
        assert got is not None
    convs = (await owner.get(f"{M}/conversations")).json()
    assert convs[0]["external_number"] == "+74951234567" and convs[0]["unread"] == 1
    ann_convs = (await ann.get(f"{M}/conversations")).json()
    assert ann_convs[0]["id"] == convs[0]["id"]
    async with database.transaction() as s:
        none = await MessagingService().receive_sms(s, "+74950000000", "+74951234567", "?")
        assert none is None

    # delayed sending: scheduled, invisible to the others, released when due
    later = datetime.now(UTC) + timedelta(minutes=5)
    r = await ann.post(
        f"{M}/sms",
        json={"to": "+74951234568", "text": "later", "scheduled_at": later.isoformat()},
    )
    assert r.json()["status"] == "scheduled"
    queued_before = len(await _events(database, "message.queued"))
    async with database.transaction() as s:
        assert await MessagingService().release_due(s, utcnow()) == 0
    async with database.transaction() as s:
        assert await MessagingService().release_due(s, later + timedelta(seconds=1)) == 1
    async with database.session() as s:
        row = await s.get(Message, r.json()["id"])
        assert row is not None and row.status == "queued"
    assert len(await _events(database, "message.queued")) == queued_before + 1


async def test_mailings_to_colleagues(api: Api, database: Database) -> None:
    owner, people = await _company(api, "Mail Co", "mail.example.com")
    bob = await api.signin("bob@mail.example.com", "password123")
    later = datetime.now(UTC) + timedelta(hours=1)
    r = await owner.post(
        f"{M}/campaigns",
        json={
            "channel": "chat",
            "name": "All hands",
            "text": "Meeting at 5",
            "all_employees": True,
            "scheduled_at": later.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    camp = r.json()
    assert camp["status"] == "scheduled" and camp["counts"] == {"scheduled": 2}
    assert {x["user_id"] for x in camp["recipients"]} == {
        people["ann"]["user_id"],
        people["bob"]["user_id"],
    }
    assert (await bob.get(f"{M}/unread")).json() == {"unread": 0}  # not yet
    r = await owner.post(f"{M}/campaigns/{camp['id']}/cancel")
    assert r.json()["status"] == "cancelled" and r.json()["counts"] == {"cancelled": 2}
    # send it now to everyone again
    r = await owner.post(f"{M}/campaigns/{camp['id']}/repeat", json={"recipients": "all"})
    assert r.status_code == 201, r.text
    again = r.json()
    assert again["counts"] == {"sent": 2} and again["repeat_of"] == camp["id"]
    assert again["status"] == "done"
    assert (await bob.get(f"{M}/unread")).json() == {"unread": 1}
    r = await owner.post(f"{M}/campaigns/{camp['id']}/repeat", json={"recipients": "failed"})
    assert_error(r, 422, "validation.failed")
    listed = (await owner.get(f"{M}/campaigns")).json()
    assert [c["id"] for c in listed] == [again["id"], camp["id"]]
    assert_error(await bob.get(f"{M}/campaigns/{camp['id']}"), 404, "messaging.campaign_not_found")


async def test_message_history_report(api: Api, database: Database) -> None:
    owner, people = await _company(api, "Hist Co", "hist.example.com")
    tenant_id = people["owner"]["tenant"]["id"]
    ann = await api.signin("ann@hist.example.com", "password123")
    bob_id = people["bob"]["user_id"]
    await _assign_number(database, tenant_id, "+74957000002", user_id=people["ann"]["user_id"])
    d = (await ann.post(f"{M}/conversations", json={"kind": "direct", "user_id": bob_id})).json()
    await ann.post(f"{M}/conversations/{d['id']}/messages", json={"text": "private words"})
    for n, text in (("+74951111111", "Order 1 shipped"), ("+74952222222", "Order 2 shipped")):
        r = await ann.post(f"{M}/sms", json={"to": n, "text": text})
        assert r.status_code == 201
    async with database.transaction() as s:
        await MessagingService().receive_sms(s, "+74957000002", "+74951111111", "Thanks!")
        # one SMS failed, one delivered, each from yesterday
        rows = (await s.execute(select(Message).where(Message.channel == "sms"))).scalars()
        for m in rows:
            if m.external_number == "+74952222222" and m.direction == "outgoing":
                m.status, m.error = "failed", "undeliverable"
            elif m.direction == "outgoing":
                m.status, m.cost = "delivered", 150
            m.created_at = utcnow() - timedelta(days=1)

    r = await owner.get(f"{M}/history")
    assert r.status_code == 200, r.text
    h = r.json()
    t = h["totals"]
    assert (t["messages"], t["chat"], t["sms_outgoing"], t["sms_incoming"]) == (4, 1, 2, 1)
    assert (t["delivered"], t["failed"], t["cost"], t["delivery_rate"]) == (1, 1, 150, 0.5)
    assert sum(x["sms_outgoing"] for x in h["by_day"]) == 2
    assert len(h["by_day"]) == 2  # yesterday (SMS) and today (chat)
    assert h["items"][0]["channel"] == "chat"  # newest first
    # the owner is not in Ann's chat with Bob: he sees that it happened, not the words
    assert h["items"][0]["body"] == "" and h["items"][0]["body_hidden"] is True
    assert h["items"][0]["employee"] == "Ann (401)" and h["items"][0]["deleted"] is False

    async def count(client: httpx.AsyncClient, **params: Any) -> int:
        r = await client.get(f"{M}/history", params=params)
        assert r.status_code == 200, r.text
        return int(r.json()["total"])

    assert await count(owner, channel="sms") == 3
    assert await count(owner, direction="incoming") == 1
    assert await count(owner, status="failed") == 1
    assert await count(owner, number="2222222") == 1
    assert await count(owner, q="shipped") == 2
    assert await count(owner, employee="401") == 4  # Ann sent 3; the reply came to her line
    assert await count(owner, employee="402") == 0
    since = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    assert await count(owner, **{"from": since}) == 1
    r = await owner.get(f"{M}/history", params={"employee": "999"})
    assert_error(r, 422, "validation.failed")
    # Ann sees her own words; Bob sees only his conversation with Ann
    ann_h = (await ann.get(f"{M}/history", params={"channel": "chat"})).json()
    assert ann_h["items"][0]["body"] == "private words"
    bob = await api.signin("bob@hist.example.com", "password123")
    assert await count(bob) == 1

    # exports follow the filters
    r = await owner.get(f"{M}/history.csv", params={"channel": "sms"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert sorted(x["external_number"] for x in rows) == [
        "+74951111111",
        "+74951111111",
        "+74952222222",
    ]
    assert {x["status"] for x in rows} == {"delivered", "failed", "received"}
    r = await owner.get(f"{M}/history.xlsx", params={"status": "failed"})
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = list(sheet.values)
    assert len(values) == 2 and "undeliverable" in values[1]
