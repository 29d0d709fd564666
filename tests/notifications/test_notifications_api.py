"""Notifications from store decisions and temporary-number expiry: the API, the outbox event
and the e-mail copy (a real SMTP exchange with aiosmtpd on loopback)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.accounts.service import AccountService
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.models import OutboxEvent, PhoneNumber, utcnow
from clickphone.notifications.mail import NotificationMailer
from clickphone.numbers.store import StoreService


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, int]]:
    box = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0)
    try:
        yield box, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def settings(tmp_path: Path, inbox: tuple[Inbox, int]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="x" * 40,
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="ClickPhone <noreply@clickphone.test>",
        smtp_tls="none",
        public_url="https://pbx.example/",
    )


async def operator(api: Api, database: Database) -> httpx.AsyncClient:
    async with database.session() as s:
        await AccountService().ensure_operator_admin(s, "op@example.com", "operator-pass1")
    return await api.signin("op@example.com", "operator-pass1")


async def add_number(op: httpx.AsyncClient, e164: str) -> dict[str, Any]:
    r = await op.post("/api/v1/numbers", json={"e164": e164, "monthly_fee": 30000})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def events(database: Database, type_: str) -> list[dict[str, Any]]:
    async with database.session() as s:
        rows = await s.execute(select(OutboxEvent.payload).where(OutboxEvent.type == type_))
        return [dict(p) for p in rows.scalars()]


async def test_store_decisions_notify_the_customer_and_mail_them(
    api: Api, app: Any, database: Database, inbox: tuple[Inbox, int]
) -> None:
    mailer = NotificationMailer(app.state.services.settings, database, app.state.services.bus)
    await mailer.start()
    op = await operator(api, database)
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    other = await api.signup_company("Other", "owner@other-example.com")
    n = await add_number(op, "+74951110001")
    order = (await acme.post("/api/v1/store/requests", json={"number_id": n["id"]})).json()
    assert (await acme.get("/api/v1/notifications/unread")).json() == {"unread": 0}
    # the office hears of the order at once
    (office_note,) = (await op.get("/api/v1/notifications")).json()["items"]
    assert office_note["kind"] == "store.requested"
    assert office_note["title"] == "New order from Acme: number +74951110001"
    assert office_note["data"]["request_id"] == order["id"]
    await op.post("/api/v1/notifications/read", json={})

    r = await op.post(f"/api/v1/store/requests/{order['id']}/approve", json={})
    assert r.status_code == 200, r.text
    page = (await acme.get("/api/v1/notifications")).json()
    assert page["unread"] == 1 and page["total"] == 1
    (note,) = page["items"]
    assert note["kind"] == "store.approved" and note["read_at"] is None
    assert "+74951110001" in note["title"]
    assert note["data"]["number"] == "+74951110001"
    assert note["data"]["request_id"] == order["id"]
    (_office, event) = await events(database, "notification.created")
    assert event == {
        "notification_id": note["id"],
        "user_id": event["user_id"],
        "kind": "store.approved",
    }

    # The e-mail copy goes out from the event.
    await app.state.dispatcher.dispatch_pending()
    box, _ = inbox
    for _ in range(50):
        if len(box.mails) == 2:
            break
        await asyncio.sleep(0.1)
    office_mail, mail = sorted(box.mails, key=lambda m: str(m["To"]) != "op@example.com")
    assert office_mail["To"] == "op@example.com"
    assert "New order from Acme: number +74951110001" in str(office_mail["Subject"])
    assert mail["To"] == "owner@acme-example.com"
    assert "+74951110001" in str(mail["Subject"])
    assert "https://pbx.example/" in mail.get_payload(decode=True).decode()
    await app.state.dispatcher.dispatch_pending()  # nothing twice
    assert mailer.sent == 2

    # Another tenant sees none of it and cannot mark it.
    assert (await other.get("/api/v1/notifications")).json()["total"] == 0
    assert_error(await other.post(f"/api/v1/notifications/{note['id']}/read"), 404, "not_found")
    r = await acme.post(f"/api/v1/notifications/{note['id']}/read")
    assert r.status_code == 200 and r.json()["read_at"] is not None
    assert (await acme.get("/api/v1/notifications/unread")).json() == {"unread": 0}

    # A rejection, with the office's reason.
    pkg = (await acme.post("/api/v1/store/requests", json={"kind": "sms_package"})).json()
    await op.post(f"/api/v1/store/requests/{pkg['id']}/reject", json={"note": "not sold here"})
    unread = (await acme.get("/api/v1/notifications", params={"unread": True})).json()
    assert [(i["kind"], i["body"]) for i in unread["items"]] == [
        ("store.rejected", "not sold here")
    ]
    r = await acme.post("/api/v1/notifications/read", json={})
    assert r.json() == {"unread": 0}
    await mailer.stop()


async def test_temporary_number_expires_into_quarantine(api: Api, database: Database) -> None:
    op = await operator(api, database)
    traveller = api.client()
    r = await traveller.post(
        "/api/v1/auth/signup/individual",
        json={"email": "traveller@example.com", "password": "password123", "nickname": "tr"},
    )
    assert r.status_code == 201, r.text
    traveller.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    n = await add_number(op, "+442071234567")

    for bad, field in (({"days": 0}, "details.days"), ({"country": "FR"}, "details.country")):
        err = assert_error(
            await traveller.post(
                "/api/v1/store/requests",
                json={"kind": "temporary_number", "number_id": n["id"], "details": bad},
            ),
            422,
            "validation.failed",
        )
        assert field in err["details"]["fields"]
    r = await traveller.post(
        "/api/v1/store/requests",
        json={"kind": "temporary_number", "number_id": n["id"], "details": {"days": 3}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["details"] == {"days": 3, "country": "GB"}
    approved = (await op.post(f"/api/v1/store/requests/{r.json()['id']}/approve", json={})).json()
    mine = (await traveller.get("/api/v1/numbers")).json()["items"]
    assert [(m["e164"], m["state"]) for m in mine] == [("+442071234567", "assigned")]
    assert mine[0]["expires_at"] == approved["expires_at"] is not None

    store = StoreService()
    # a warning before the end, once
    assert await store.warn_expiring(database, utcnow() - timedelta(days=1)) == 0
    assert await store.warn_expiring(database, utcnow() + timedelta(days=1)) == 1
    assert await store.warn_expiring(database, utcnow() + timedelta(days=2)) == 0
    (warning,) = (await traveller.get("/api/v1/notifications", params={"unread": True})).json()[
        "items"
    ][:1]
    assert warning["kind"] == "number.expiring" and "+442071234567" in warning["title"]
    assert await store.expire_temporary(database, utcnow() + timedelta(days=2)) == 0
    assert await store.expire_temporary(database, utcnow() + timedelta(days=3, minutes=1)) == 1
    assert (await traveller.get("/api/v1/numbers")).json()["items"] == []
    async with database.session() as s:
        number = await s.get(PhoneNumber, n["id"])
        assert number is not None
        assert (number.state, number.tenant_id, number.expires_at) == ("quarantined", None, None)
        assert number.quarantine_until is not None
    kinds = [i["kind"] for i in (await traveller.get("/api/v1/notifications")).json()["items"]]
    assert kinds == ["number.expired", "number.expiring", "store.approved"]
    released = await events(database, "number.released")
    assert released == [{"number_id": n["id"], "e164": "+442071234567", "reason": "expired"}]
    assert await store.expire_temporary(database, utcnow() + timedelta(days=9)) == 0
