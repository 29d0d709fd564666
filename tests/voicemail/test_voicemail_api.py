"""The voicemail inbox: a stored voicemail notifies its listeners, who list, play (ranges),
mark read and delete it; colleagues see only their own; other companies nothing
(SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.models import Notification, OutboxEvent
from clickphone.voicemail.service import store_voicemail

V = "/api/v1/voicemails"


async def _company(api: Api) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    owner = await api.signup_company("Voice Co", "owner@voice.example.com")
    people: dict[str, Any] = {"owner": (await owner.get("/api/v1/me")).json()}
    for who, ext in (("ann", "401"), ("bob", "402")):
        r = await owner.post(
            "/api/v1/employees",
            json={
                "full_name": who.title(),
                "email": f"{who}@voice.example.com",
                "password": "password123",
                "extension": ext,
            },
        )
        assert r.status_code == 201, r.text
        people[who] = r.json()
    return owner, people


async def _voicemail(
    database: Database, settings: Settings, tenant_id: int, owner: int | None, name: str
) -> str:
    rel = f"voicemail/{tenant_id}/{name}.wav"
    path = settings.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    row = await store_voicemail(
        database,
        call_id=name.ljust(32, "0"),
        tenant_id=tenant_id,
        owner_employee_id=owner,
        caller="+74951234567",
        caller_name="Client",
        callee="401",
        path=rel,
        seconds=12.34,
    )
    return row.id


async def test_voicemail_inbox(api: Api, database: Database, settings: Settings) -> None:
    owner, people = await _company(api)
    tenant_id = people["owner"]["tenant"]["id"]
    ann = await api.signin("ann@voice.example.com", "password123")
    bob = await api.signin("bob@voice.example.com", "password123")
    anns = await _voicemail(database, settings, tenant_id, people["ann"]["id"], "ann1")
    company = await _voicemail(database, settings, tenant_id, None, "main1")

    # listeners: Ann and the owner for Ann's; the owner alone for the company's
    async with database.session() as s:
        notes = list((await s.execute(select(Notification))).scalars())
        events = list(
            (
                await s.execute(select(OutboxEvent).where(OutboxEvent.type == "voicemail.created"))
            ).scalars()
        )
    owner_id, ann_id = people["owner"]["user"]["id"], people["ann"]["user_id"]
    assert sorted((n.user_id, n.data["voicemail_id"]) for n in notes) == sorted(
        [(owner_id, anns), (ann_id, anns), (owner_id, company)]
    )
    assert {n.kind for n in notes} == {"voicemail.received"}
    assert notes[0].title == "Voicemail from Client (12 s)"
    assert sorted(events[0].payload["user_ids"]) == sorted([owner_id, ann_id])

    page = (await ann.get(V)).json()
    assert [v["id"] for v in page["items"]] == [anns] and page["unread"] == 1
    assert page["items"][0]["seconds"] == 12.3 and page["items"][0]["caller_name"] == "Client"
    assert (await bob.get(V)).json()["items"] == []
    assert_error(await bob.get(f"{V}/{anns}/audio"), 404, "voicemail.not_found")
    everything = (await owner.get(V)).json()
    assert {v["id"] for v in everything["items"]} == {anns, company}
    assert everything["unread"] == 2

    # listening, with a range request (seeking in the browser)
    r = await ann.get(f"{V}/{anns}/audio", headers={"Range": "bytes=4-9"})
    assert r.status_code == 206 and r.content == bytes(range(6))
    assert r.headers["content-type"] == "audio/wav"
    r = await ann.post(f"{V}/{anns}/read")
    assert r.status_code == 200 and r.json()["read_at"]
    assert (await ann.get(f"{V}/unread")).json() == {"unread": 0}
    assert (await owner.get(f"{V}/unread")).json() == {"unread": 1}  # read is per voicemail
    assert (await owner.get(V, params={"unread": True})).json()["total"] == 1

    # another company sees nothing
    other = await api.signup_company("Other Voice", "owner@other-voice.example.com")
    assert (await other.get(V)).json()["total"] == 0
    assert_error(await other.delete(f"{V}/{company}"), 404, "voicemail.not_found")

    # deleting removes the audio; the owner marks the rest read
    assert (await owner.delete(f"{V}/{company}")).status_code == 204
    assert not (settings.data_dir / f"voicemail/{tenant_id}/main1.wav").exists()
    assert [v["id"] for v in (await owner.get(V)).json()["items"]] == [anns]
    assert (await owner.post(f"{V}/read", json={})).json() == {"unread": 0}
    assert (settings.data_dir / f"voicemail/{tenant_id}/ann1.wav").exists()
