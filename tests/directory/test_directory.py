"""Departments, employees, devices (SIP password once, HA1s, rotation), registrations,
contacts, numbers; pagination, search and sort."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.db import Database
from clickphone.db.models import SipDevice, SipRegistration
from clickphone.directory.sipcred import compute_ha1


async def test_employee_with_device_and_rotation(api: Api, database: Database) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    r = await c.post(
        "/api/v1/employees",
        json={
            "full_name": "Bob",
            "email": "bob@example.com",
            "extension": "201",
            "create_device": True,
            "auth_algorithms": ["MD5"],
        },
    )
    assert r.status_code == 201, r.text
    emp = r.json()
    assert emp["initial_password"] and emp["extension"] == "201"
    dev = emp["device"]
    password = dev["sip_password"]
    assert len(password) >= 16 and dev["auth_algorithms"] == ["MD5"]
    async with database.session() as s:
        row = await s.scalar(select(SipDevice).where(SipDevice.id == dev["id"]))
        assert row is not None
        a1 = f"{row.sip_username}:clickphone:{password}".encode()
        assert row.ha1_md5 == hashlib.md5(a1).hexdigest()
        assert row.ha1_sha256 == hashlib.sha256(a1).hexdigest()
        assert row.ha1_sha512_256 == compute_ha1(
            row.sip_username, "clickphone", password, "SHA-512-256"
        )
    # The password is never shown again.
    got = await c.get(f"/api/v1/devices/{dev['id']}")
    assert "sip_password" not in got.json() and got.json()["online"] is False
    rotated = await c.post(f"/api/v1/devices/{dev['id']}/rotate", json={})
    assert rotated.status_code == 200 and rotated.json()["sip_password"] != password
    # Duplicate extension.
    r = await c.post(
        "/api/v1/employees",
        json={"full_name": "Dup", "email": "dup@example.com", "extension": "201"},
    )
    assert_error(r, 409, "conflict.extension_taken")
    # Registration state is read from the registrations table.
    async with database.session() as s:
        s.add(
            SipRegistration(
                device_id=dev["id"],
                tenant_id=emp["tenant_id"],
                contact_uri="sip:b@10.0.0.2:5062",
                received_host="10.0.0.2",
                received_port=5062,
                transport="tcp",
                user_agent="baresip",
                call_id="x",
                cseq=3,
                expires_at=datetime.now(UTC) + timedelta(seconds=600),
            )
        )
        await s.commit()
    got = (await c.get(f"/api/v1/employees/{emp['id']}/devices")).json()["items"][0]
    assert got["online"] is True
    assert got["registrations"][0]["user_agent"] == "baresip"
    regs = (await c.get("/api/v1/registrations")).json()
    assert regs["total"] == 1 and regs["items"][0]["received_port"] == 5062
    # Deleting the employee removes their devices.
    assert (await c.delete(f"/api/v1/employees/{emp['id']}")).status_code == 204
    assert_error(await c.get(f"/api/v1/devices/{dev['id']}"), 404, "not_found")


async def test_pagination_search_sort(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    names = ["Delta", "alpha", "Charlie", "bravo", "Echo"]
    for n in names:
        assert (await c.post("/api/v1/departments", json={"name": n})).status_code == 201
    page = (await c.get("/api/v1/departments", params={"limit": 2, "sort": "name"})).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 0
    all_sorted = [
        d["name"]
        for d in (await c.get("/api/v1/departments", params={"sort": "-id"})).json()["items"]
    ]
    assert all_sorted == list(reversed(names))
    second = (
        await c.get("/api/v1/departments", params={"limit": 2, "offset": 2, "sort": "-id"})
    ).json()
    assert [d["name"] for d in second["items"]] == all_sorted[2:4]
    found = (await c.get("/api/v1/departments", params={"q": "ALP"})).json()
    assert [d["name"] for d in found["items"]] == ["alpha"] and found["total"] == 1
    body = assert_error(
        await c.get("/api/v1/departments", params={"sort": "password"}), 422, "validation.failed"
    )
    assert "sort" in body["details"]["fields"]
    body = assert_error(
        await c.get("/api/v1/departments", params={"limit": 0}), 422, "validation.failed"
    )
    assert "limit" in body["details"]["fields"]


async def test_contacts_with_several_numbers(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    r = await c.post(
        "/api/v1/contacts",
        json={
            "name": "Ivan",
            "company": "Client Co",
            "favorite": True,
            "group": "vip",
            "shared": True,
            "numbers": [
                {"number": "+7 495 123-45-67", "label": "work"},
                {"number": "+1 (415) 555-0100", "label": "mobile"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    contact = r.json()
    assert [n["number"] for n in contact["numbers"]] == ["+74951234567", "+14155550100"]
    await c.post("/api/v1/contacts", json={"name": "Other", "numbers": [{"number": "101"}]})
    by_number = (await c.get("/api/v1/contacts", params={"q": "4951234"})).json()
    assert [x["name"] for x in by_number["items"]] == ["Ivan"]
    fav = (await c.get("/api/v1/contacts", params={"favorite": "true"})).json()
    assert fav["total"] == 1
    grp = (await c.get("/api/v1/contacts", params={"group": "vip"})).json()
    assert grp["total"] == 1
    r = await c.patch(
        f"/api/v1/contacts/{contact['id']}",
        json={"numbers": [{"number": "+74951112233"}], "favorite": False},
    )
    assert r.status_code == 200
    assert [n["number"] for n in r.json()["numbers"]] == ["+74951112233"]
    bad = await c.post("/api/v1/contacts", json={"name": "X", "numbers": [{"number": "abc"}]})
    assert assert_error(bad, 422, "validation.failed")["details"]["fields"] == {
        "numbers.0.number": "not a phone number"
    }
    assert (await c.delete(f"/api/v1/contacts/{contact['id']}")).status_code == 204


async def test_numbers_operator_adds_tenant_sees(api: Api, app: Any, database: Database) -> None:
    owner = await api.signup_company("Acme", "owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    async with database.session() as s:
        from clickphone.accounts.service import AccountService

        await AccountService().ensure_operator_admin(s, "op@example.com", "operator-pass1")
    op = await api.signin("op@example.com", "operator-pass1")
    r = await op.post("/api/v1/numbers", json={"e164": "+74951234567", "tenant_id": tenant_id})
    assert r.status_code == 201, r.text
    assert r.json()["country"] == "RU" and r.json()["state"] == "assigned"
    assert_error(
        await op.post("/api/v1/numbers", json={"e164": "+74951234567"}),
        409,
        "conflict.number_exists",
    )
    assert_error(await op.post("/api/v1/numbers", json={"e164": "12"}), 422, "validation.failed")
    await op.post("/api/v1/numbers", json={"e164": "+14155550100"})
    assert (await op.get("/api/v1/numbers")).json()["total"] == 2
    mine = (await owner.get("/api/v1/numbers")).json()
    assert [n["e164"] for n in mine["items"]] == ["+74951234567"]
    nums = (await owner.get("/api/v1/me/numbers")).json()
    assert [n["e164"] for n in nums["virtual_numbers"]] == ["+74951234567"]
    # Operator sees all tenants.
    assert (await op.get("/api/v1/tenants")).json()["total"] == 1
