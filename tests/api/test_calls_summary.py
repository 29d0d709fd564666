"""GET /api/v1/calls/summary: totals and per-department counts, tenant-scoped (both DBs)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from apitest import Api
from clickphone.db import Database
from clickphone.db.models import CallRecord


async def _employee(client: httpx.AsyncClient, name: str, dept: int) -> int:
    r = await client.post(
        "/api/v1/employees",
        json={
            "full_name": name,
            "email": f"{name.lower()}@example.com",
            "password": "password123",
            "department_id": dept,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _record(tenant: int, when: datetime, outcome: str, talk: float = 0.0, **kw: object) -> Any:
    return CallRecord(
        id=secrets.token_hex(16),
        tenant_id=tenant,
        sip_call_id=secrets.token_hex(8),
        direction=kw.pop("direction", "internal"),
        caller="101",
        callee="102",
        started_at=when,
        outcome=outcome,
        talk_seconds=talk,
        **kw,
    )


async def test_summary_totals_departments_and_scope(api: Api, database: Database) -> None:
    a = await api.signup_company("Alpha", "alpha@example.com")
    tenant = (await a.get("/api/v1/me")).json()["tenant"]["id"]
    sales = (await a.post("/api/v1/departments", json={"name": "Sales"})).json()["id"]
    support = (await a.post("/api/v1/departments", json={"name": "Support"})).json()["id"]
    anna = await _employee(a, "Anna", sales)
    vera = await _employee(a, "Vera", sales)
    boris = await _employee(a, "Boris", support)
    now = datetime.now(UTC)
    async with database.session() as s:
        s.add_all(
            [
                _record(
                    tenant, now, "answered", 60, caller_employee_id=anna, callee_employee_id=vera
                ),
                _record(tenant, now, "missed", caller_employee_id=anna, callee_employee_id=boris),
                _record(
                    tenant, now, "answered", 30, direction="incoming", callee_employee_id=boris
                ),
                _record(tenant, now, "failed", direction="outgoing"),
                _record(tenant, now - timedelta(days=2), "answered", 500, callee_employee_id=anna),
            ]
        )
        await s.commit()
    since = (now - timedelta(hours=1)).isoformat()
    r = await a.get("/api/v1/calls/summary", params={"from": since})
    assert r.status_code == 200, r.text
    body = r.json()
    t = body["totals"]
    assert (t["calls"], t["answered"], t["missed"], t["failed"]) == (4, 2, 1, 1)
    assert t["talk_seconds"] == 90.0
    depts = {d["name"]: d for d in body["departments"]}
    assert set(depts) == {"Sales", "Support"}
    # Sales: Anna→Vera (once) and Anna→Boris; Support: Anna→Boris and the incoming call.
    assert (depts["Sales"]["calls"], depts["Sales"]["answered"], depts["Sales"]["missed"]) == (
        2,
        1,
        1,
    )
    assert depts["Sales"]["talk_seconds"] == 60.0 and depts["Sales"]["department_id"] == sales
    assert (depts["Support"]["calls"], depts["Support"]["talk_seconds"]) == (2, 30.0)
    # Without a period: everything, the old call included.
    assert (await a.get("/api/v1/calls/summary")).json()["totals"]["calls"] == 5

    # An employee counts only their own calls.
    b_emp = await api.signin("boris@example.com", "password123")
    mine = (await b_emp.get("/api/v1/calls/summary", params={"from": since})).json()
    assert mine["totals"]["calls"] == 2
    assert {d["name"] for d in mine["departments"]} == {"Sales", "Support"}

    # Another company sees none of it.
    b = await api.signup_company("Beta", "beta@example.com")
    other = (await b.get("/api/v1/calls/summary")).json()
    assert other["totals"]["calls"] == 0 and other["departments"] == []
