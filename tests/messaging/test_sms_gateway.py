"""SMS through a carrier's SMSC (the third-party smpp34 server, tests/messaging/smsc.py):
sent from the API, delivered by receipt, multipart, undeliverable (the sender is notified),
refused, incoming SMS, a carrier that appears later, delayed sending and crash recovery
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from smsc import ESME_RINVDSTADR, TestSmsc
from sqlalchemy import select

from apitest import Api
from clickphone.bus import EventBus, OutboxDispatcher
from clickphone.bus.events import Event
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.models import (
    Conversation,
    Message,
    Notification,
    PhoneNumber,
    SmsPart,
    Trunk,
    utcnow,
)
from clickphone.messaging.gateway import SmsGateway
from clickphone.trunks.secrets import TrunkSecrets

M = "/api/v1/messages"
LINE = "+74957000001"


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def message(database: Database, message_id: str) -> Message:
    async with database.session() as s:
        row = await s.get(Message, message_id)
        assert row is not None
        return row


async def wait_status(database: Database, message_id: str, status: str) -> Message:
    async def done() -> bool:
        return (await message(database, message_id)).status == status

    await until(done, f"message {message_id} {status}")
    return await message(database, message_id)


async def add_trunk(database: Database, settings: Settings, smsc: TestSmsc, **kw: Any) -> int:
    secrets = TrunkSecrets(settings.ensure_secret_key())
    async with database.transaction() as s:
        trunk = Trunk(
            name=kw.pop("name", "carrier"),
            host="127.0.0.1",
            kind="ip",
            smpp_host=smsc.host,
            smpp_port=smsc.port,
            smpp_system_id="clickphone",
            smpp_password=secrets.encrypt("secret"),
            **kw,
        )
        s.add(trunk)
        await s.flush()
        return trunk.id


@pytest.fixture
async def ann(api: Api, database: Database) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    owner = await api.signup_company("Sms Gateway Co", "owner@gw.example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    r = await owner.post(
        "/api/v1/employees",
        json={
            "full_name": "Ann",
            "email": "ann@gw.example.com",
            "password": "password123",
            "extension": "401",
        },
    )
    assert r.status_code == 201, r.text
    emp = r.json()
    async with database.transaction() as s:
        s.add(PhoneNumber(e164=LINE, tenant_id=tenant_id, user_id=emp["user_id"], state="assigned"))
    client = await api.signin("ann@gw.example.com", "password123")
    return client, {"tenant_id": tenant_id, **emp}


@pytest.fixture
async def running(
    database: Database, bus: EventBus, settings: Settings
) -> AsyncIterator[Callable[[], Awaitable[SmsGateway]]]:
    dispatcher = OutboxDispatcher(database, bus, poll_interval=0.1)
    await dispatcher.start()
    gateways: list[SmsGateway] = []

    async def start() -> SmsGateway:
        gw = SmsGateway(
            database, bus, secret_key=settings.ensure_secret_key(), tick=0.2, retry_interval=0.3
        )
        await gw.start()
        gateways.append(gw)
        return gw

    try:
        yield start
    finally:
        for gw in gateways:
            await gw.stop()
        await dispatcher.stop()


async def bound(gw: SmsGateway, trunk_id: int) -> None:
    async def up() -> bool:
        return trunk_id in gw.links and gw.links[trunk_id][1].bound

    await until(up, "the SMPP link to bind")


async def test_sms_out_and_in_through_the_smsc(
    ann: tuple[httpx.AsyncClient, dict[str, Any]],
    database: Database,
    settings: Settings,
    running: Callable[[], Awaitable[SmsGateway]],
) -> None:
    client, who = ann
    async with TestSmsc(undeliverable=["+74951110000"]) as smsc:
        trunk_id = await add_trunk(database, settings, smsc, sms_rate=250)
        gw = await running()
        await bound(gw, trunk_id)

        r = await client.post(f"{M}/sms", json={"to": "+74951234567", "text": "Hello"})
        assert r.status_code == 201, r.text
        first = r.json()
        row = await wait_status(database, first["id"], "delivered")
        [sub] = smsc.submits
        assert (sub.source, sub.destination, sub.text) == ("74957000001", "74951234567", "Hello")
        assert (sub.source_ton, sub.dest_ton, sub.data_coding) == (1, 1, 0)
        assert (row.trunk_id, row.parts, row.cost) == (trunk_id, 1, 250)
        assert row.sent_at is not None and row.delivered_at is not None
        async with database.session() as s:
            parts = list((await s.execute(select(SmsPart))).scalars())
        assert [(p.provider_id, p.state) for p in parts] == [(sub.message_id, "delivered")]

        # a long Cyrillic text: three UCS-2 parts, delivered when every part is
        text = "Добрый день! Ваш заказ №4521 собран и будет доставлен завтра с 10:00 до 14:00. " * 2
        r = await client.post(f"{M}/sms", json={"to": "+74951234567", "text": text})
        long = r.json()
        assert long["parts"] == 3
        row = await wait_status(database, long["id"], "delivered")
        subs = smsc.submits[1:]
        assert len(subs) == 3 and {s.data_coding for s in subs} == {8}
        assert [s.udh.seq for s in subs if s.udh] == [1, 2, 3]
        assert "".join(s.text for s in subs) == text.strip()
        assert row.cost == 750

        # undeliverable: failed, and Ann is told
        r = await client.post(f"{M}/sms", json={"to": "+74951110000", "text": "Are you there?"})
        row = await wait_status(database, r.json()["id"], "failed")
        assert "failed" in row.error
        async with database.session() as s:
            notes = list((await s.execute(select(Notification))).scalars())
        assert [(n.kind, n.user_id, n.data["message_id"]) for n in notes] == [
            ("message.failed", who["user_id"], row.id)
        ]

        # an incoming SMS lands in the thread with that number, unread for Ann
        mo = await smsc.send_mo("+74951234567", LINE, "Спасибо, жду!")
        assert mo.acknowledged
        convs = (await client.get(f"{M}/conversations")).json()
        thread = next(c for c in convs if c["external_number"] == "+74951234567")
        assert thread["id"] == first["conversation_id"] and thread["unread"] == 1
        assert thread["last_message"]["body"] == "Спасибо, жду!"
        assert thread["last_message"]["direction"] == "incoming"
        # to a number that is not ours: acknowledged (nobody to give it to), not stored
        assert (await smsc.send_mo("+74951234567", "+74950000000", "wrong number")).acknowledged
        async with database.session() as s:
            incoming = (
                await s.execute(select(Message).where(Message.direction == "incoming"))
            ).scalars()
            assert [m.body for m in incoming] == ["Спасибо, жду!"]


async def test_sms_refused_by_the_carrier(
    ann: tuple[httpx.AsyncClient, dict[str, Any]],
    database: Database,
    settings: Settings,
    running: Callable[[], Awaitable[SmsGateway]],
) -> None:
    client, _ = ann
    async with TestSmsc(reject={"+74952220000": ESME_RINVDSTADR}) as smsc:
        trunk_id = await add_trunk(database, settings, smsc)
        await bound(await running(), trunk_id)
        r = await client.post(f"{M}/sms", json={"to": "+74952220000", "text": "x"})
        row = await wait_status(database, r.json()["id"], "failed")
        assert "refused by the carrier" in row.error and "ESME_RINVDSTADR" in row.error
        assert smsc.submits[0].message_id is None


async def test_sms_waits_for_a_carrier_and_recovers_after_a_crash(
    ann: tuple[httpx.AsyncClient, dict[str, Any]],
    database: Database,
    bus: EventBus,
    settings: Settings,
    running: Callable[[], Awaitable[SmsGateway]],
) -> None:
    client, who = ann
    # a message a crashed process left "sending": the SMSC's answer is lost
    async with database.transaction() as s:
        conv = Conversation(tenant_id=who["tenant_id"], kind="sms", key="sms:x:y")
        s.add(conv)
        await s.flush()
        s.add(
            Message(
                id="stuck" + "0" * 27,
                tenant_id=who["tenant_id"],
                conversation_id=conv.id,
                channel="sms",
                direction="outgoing",
                sender_user_id=who["user_id"],
                external_number="+74951234567",
                line=LINE,
                body="lost?",
                status="sending",
                created_at=utcnow(),
            )
        )
    gw = await running()
    stuck = await message(database, "stuck" + "0" * 27)
    assert stuck.status == "failed" and stuck.error.startswith("interrupted")

    # no SMS trunk yet: the SMS waits, queued
    r = await client.post(f"{M}/sms", json={"to": "+74951234567", "text": "patience"})
    sms_id = r.json()["id"]
    await asyncio.sleep(0.8)  # a few retry rounds
    row = await message(database, sms_id)
    assert row.status == "queued" and "no SMS route" in row.error

    # the operator adds the carrier: the gateway connects and the SMS goes out
    async with TestSmsc() as smsc:
        trunk_id = await add_trunk(database, settings, smsc)
        await bus.publish(Event("trunk.created", {"trunk_id": trunk_id}))
        await bound(gw, trunk_id)
        await wait_status(database, sms_id, "delivered")
        assert [s.text for s in smsc.submits] == ["patience"]

        # delayed sending: nothing before its time, sent after
        later = utcnow().timestamp() + 1.5
        r = await client.post(
            f"{M}/sms",
            json={
                "to": "+74951234567",
                "text": "on time",
                "scheduled_at": utcnow().fromtimestamp(later).astimezone().isoformat(),
            },
        )
        assert r.json()["status"] == "scheduled"
        await asyncio.sleep(0.5)
        assert [s.text for s in smsc.submits] == ["patience"]
        await wait_status(database, r.json()["id"], "delivered")
        assert [s.text for s in smsc.submits] == ["patience", "on time"]


async def test_sms_between_our_own_numbers_stays_on_net(
    api: Api,
    ann: tuple[httpx.AsyncClient, dict[str, Any]],
    database: Database,
    running: Callable[[], Awaitable[SmsGateway]],
) -> None:
    client, _ = ann
    shop = await api.signup_company("Corner Shop", "owner@shop.example.com")
    shop_tenant = (await shop.get("/api/v1/me")).json()["tenant"]["id"]
    async with database.transaction() as s:
        s.add(PhoneNumber(e164="+74957000002", tenant_id=shop_tenant, state="assigned"))
    await running()  # no trunk, no SMSC: nothing could leave
    r = await client.post(f"{M}/sms", json={"to": "+74957000002", "text": "Do you deliver?"})
    row = await wait_status(database, r.json()["id"], "delivered")
    assert (row.cost, row.trunk_id) == (0, None)
    (thread,) = (await shop.get(f"{M}/conversations")).json()
    assert (thread["external_number"], thread["line"]) == (LINE, "+74957000002")
    assert thread["last_message"]["body"] == "Do you deliver?" and thread["unread"] == 1
    # and the answer goes back the same way
    r = await shop.post(
        f"{M}/conversations/{thread['id']}/messages", json={"text": "Yes, until 8 pm"}
    )
    await wait_status(database, r.json()["id"], "delivered")
    mine = (await client.get(f"{M}/conversations")).json()
    assert mine[0]["last_message"]["body"] == "Yes, until 8 pm"
