"""The number store, trunks, phone settings and the blacklist through the REST API."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.accounts.service import AccountService
from clickphone.db import Database
from clickphone.db.models import OutboxEvent


async def operator(api: Api, database: Database) -> httpx.AsyncClient:
    async with database.session() as s:
        await AccountService().ensure_operator_admin(s, "op@example.com", "operator-pass1")
    return await api.signin("op@example.com", "operator-pass1")


async def event_types(database: Database) -> list[str]:
    async with database.session() as s:
        return list(
            (await s.execute(select(OutboxEvent.type).order_by(OutboxEvent.created_at))).scalars()
        )


async def test_store_order_approve_assign_release(api: Api, database: Database) -> None:
    op = await operator(api, database)
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    for e164, city, fee in (
        ("+74951110001", "Moscow", 50000),
        ("+78121110002", "St Petersburg", 40000),
    ):
        r = await op.post(
            "/api/v1/numbers",
            json={"e164": e164, "city": city, "monthly_fee": fee, "setup_fee": 10000},
        )
        assert r.status_code == 201, r.text
    # Customers browse by country and city.
    page = (
        await acme.get("/api/v1/store/numbers", params={"country": "RU", "city": "Moscow"})
    ).json()
    assert [n["e164"] for n in page["items"]] == ["+74951110001"]
    number = page["items"][0]
    assert number["monthly_fee"] == 50000 and number["currency"] == "RUB"

    # Order it: reserved, pending in the office queue.
    r = await acme.post(
        "/api/v1/store/requests", json={"number_id": number["id"], "comment": "main line"}
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "pending" and order["monthly_fee"] == 50000
    assert_error(
        await acme.post("/api/v1/store/requests", json={"number_id": number["id"]}),
        409,
        "conflict.number_taken",
    )
    store = (await acme.get("/api/v1/store/numbers", params={"country": "RU"})).json()
    assert [n["e164"] for n in store["items"]] == ["+78121110002"]
    # Only the office decides.
    assert_error(
        await acme.post(f"/api/v1/store/requests/{order['id']}/approve", json={}),
        403,
        "permission.denied",
    )
    queue = (await op.get("/api/v1/store/requests", params={"state": "pending"})).json()
    assert [q["id"] for q in queue["items"]] == [order["id"]]
    # the office sees what was ordered and by whom
    assert queue["items"][0]["number_e164"] == "+74951110001"
    me = (await acme.get("/api/v1/me")).json()
    assert queue["items"][0]["customer_number"] == me["tenant"]["customer_number"]
    r = await op.post(f"/api/v1/store/requests/{order['id']}/approve", json={"note": "ok"})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    mine = (await acme.get("/api/v1/numbers")).json()["items"]
    assert [(n["e164"], n["state"]) for n in mine] == [("+74951110001", "assigned")]
    assert "store.request.approved" in await event_types(database)

    # Caller ID: the tenant's default, and the user's own choice.
    r = await acme.patch(
        "/api/v1/phone-settings",
        json={"caller_id_number_id": number["id"], "allowed_countries": ["ru", "by"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["allowed_countries"] == ["BY", "RU"]
    me = (await acme.get("/api/v1/phone-settings/me")).json()
    assert me["effective_caller_id"] == "+74951110001"
    other = (await op.get("/api/v1/numbers", params={"state": "available"})).json()["items"][0]
    assert_error(
        await acme.put("/api/v1/phone-settings/me", json={"caller_id_number_id": other["id"]}),
        422,
        "validation.failed",
    )

    # Release: quarantined, not for sale until the quarantine ends.
    r = await acme.post(f"/api/v1/numbers/{number['id']}/release")
    assert r.status_code == 200 and r.json()["state"] == "quarantined"
    assert r.json()["quarantine_until"] is not None
    store = (await acme.get("/api/v1/store/numbers")).json()
    assert "+74951110001" not in [n["e164"] for n in store["items"]]


async def test_rejected_order_frees_the_number_and_packages(api: Api, database: Database) -> None:
    op = await operator(api, database)
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    n = (await op.post("/api/v1/numbers", json={"e164": "+74951110003"})).json()
    order = (await acme.post("/api/v1/store/requests", json={"number_id": n["id"]})).json()
    r = await op.post(
        f"/api/v1/store/requests/{order['id']}/reject", json={"note": "region closed"}
    )
    assert r.json()["state"] == "rejected" and r.json()["decision_note"] == "region closed"
    assert (await op.get(f"/api/v1/numbers/{n['id']}")).json()["state"] == "available"
    assert "store.request.rejected" in await event_types(database)
    pkg = await acme.post(
        "/api/v1/store/requests", json={"kind": "sms_package", "details": {"package": "sms-1000"}}
    )
    assert pkg.status_code == 201 and pkg.json()["number_id"] is None
    r = await acme.post(f"/api/v1/store/requests/{pkg.json()['id']}/cancel")
    assert r.json()["state"] == "cancelled"


async def test_trunks_are_operator_business(api: Api, database: Database) -> None:
    op = await operator(api, database)
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    body = {
        "name": "carrier-a",
        "kind": "registration",
        "host": "sip.carrier.test",
        "username": "acct1",
        "password": "s3cret",
        "prefixes": ["+7"],
        "allowed_addresses": ["192.0.2.0/24"],
        "max_channels": 30,
        "max_cps": 5,
    }
    assert_error(await acme.post("/api/v1/trunks", json=body), 403, "permission.denied")
    r = await op.post("/api/v1/trunks", json=body)
    assert r.status_code == 201, r.text
    trunk = r.json()
    assert trunk["has_password"] is True and "password" not in trunk
    assert_error(await op.post("/api/v1/trunks", json=body), 409, "conflict.trunk_exists")
    bad = {**body, "name": "x", "allowed_addresses": ["not-an-ip"]}
    assert (await op.post("/api/v1/trunks", json=bad)).status_code == 422
    assert_error(
        await op.post("/api/v1/trunks", json={"name": "y", "kind": "registration", "host": "h"}),
        422,
        "validation.failed",
    )
    r = await op.patch(f"/api/v1/trunks/{trunk['id']}", json={"priority": 5, "enabled": False})
    assert r.json()["priority"] == 5 and r.json()["enabled"] is False
    state = (await op.get(f"/api/v1/trunks/{trunk['id']}/state")).json()
    assert state == {"trunk_id": trunk["id"], "running": False, "state": None}
    assert (await acme.get("/api/v1/trunks")).json() == []  # the operator's trunks are hidden
    assert_error(await acme.get(f"/api/v1/trunks/{trunk['id']}"), 404, "not_found")
    assert (await op.delete(f"/api/v1/trunks/{trunk['id']}")).status_code == 204
    assert "trunk.created" in await event_types(database)


async def test_blacklist(api: Api, database: Database) -> None:
    op = await operator(api, database)
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    r = await acme.post("/api/v1/blocked-numbers", json={"pattern": "8 (916) 123-45-67"})
    assert r.status_code == 201, r.text
    assert r.json()["pattern"] == "+79161234567" and r.json()["tenant_id"] is not None
    r = await op.post(
        "/api/v1/blocked-numbers", json={"pattern": "+7809*", "direction": "outbound"}
    )
    assert r.status_code == 201 and r.json()["tenant_id"] is None
    listed = (await acme.get("/api/v1/blocked-numbers")).json()
    assert sorted(b["pattern"] for b in listed) == ["+7809*", "+79161234567"]
    # The operator's list is not the tenant's to delete.
    assert_error(await acme.delete(f"/api/v1/blocked-numbers/{r.json()['id']}"), 404, "not_found")
    assert_error(
        await acme.post("/api/v1/blocked-numbers", json={"pattern": "12"}), 422, "validation.failed"
    )
