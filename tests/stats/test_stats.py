"""Statistics on SQLite and PostgreSQL: summaries built from call.record events (once per
record), and every /api/v1/stats route against figures computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apitest import assert_error
from clickphone.bus.events import Event
from clickphone.db import Database
from clickphone.db.models import CallRecord
from clickphone.stats.service import StatsAggregator

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


async def _seed(api: Any, database: Database) -> dict[str, Any]:
    owner = await api.signup_company("Stat Co", "stat-owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    dep = (await owner.post("/api/v1/departments", json={"name": "Sales"})).json()["id"]
    emps = []
    for i, name in enumerate(["Ann", "Ben"]):
        r = await owner.post(
            "/api/v1/employees",
            json={
                "full_name": name,
                "email": f"{name.lower()}@stat.example.com",
                "password": "password123",
                "extension": f"30{i}",
                "department_id": dep if i == 0 else None,
            },
        )
        assert r.status_code == 201, r.text
        emps.append(r.json()["id"])
    ann, ben = emps
    # (minutes after T0, direction, caller, callee, caller emp, callee emp, outcome, ring, talk)
    calls = [
        (0, "incoming", "+74950000001", "300", None, ann, "answered", 5, 60),
        (1, "incoming", "+74950000001", "300", None, ann, "missed", 20, 0),
        (2, "outgoing", "300", "+74950000002", ann, None, "answered", 3, 120),
        (70, "incoming", "+74950000001", "301", None, ben, "answered", 10, 30),
        (75, "internal", "300", "301", ann, ben, "busy", 1, 0),
        (24 * 60, "outgoing", "301", "+74950000003", ben, None, "cancelled", 8, 0),
    ]
    rows = []
    async with database.transaction() as s:
        for i, (m, dirn, caller, callee, ce, ee, outcome, ring, talk) in enumerate(calls):
            start = T0 + timedelta(minutes=m)
            answered = start + timedelta(seconds=ring) if outcome == "answered" else None
            rec = CallRecord(
                id=f"{i:032d}",
                tenant_id=tenant_id,
                sip_call_id=f"s{i}",
                direction=dirn,
                caller=caller,
                callee=callee,
                caller_employee_id=ce,
                callee_employee_id=ee,
                started_at=start,
                answered_at=answered,
                ended_at=start + timedelta(seconds=ring + talk),
                ring_seconds=ring,
                talk_seconds=talk,
                outcome=outcome,
            )
            s.add(rec)
            rows.append(rec.id)
    return {"owner": owner, "tenant_id": tenant_id, "ann": ann, "ben": ben, "ids": rows}


async def test_summaries_and_routes(api: Any, app: Any, database: Database) -> None:
    d = await _seed(api, database)
    agg = StatsAggregator(database, app.state.services.bus)
    await agg.start()
    for rid in d["ids"]:
        await app.state.services.bus.publish(Event("call.record", {"id": rid}))
    # at-least-once delivery: a repeated event is not counted twice
    await app.state.services.bus.publish(Event("call.record", {"id": d["ids"][0]}))
    assert await agg.apply(d["ids"][0]) is False
    await agg.stop()

    owner = d["owner"]
    period = {"from": T0.isoformat(), "to": (T0 + timedelta(days=2)).isoformat()}
    s = (await owner.get("/api/v1/stats/summary", params=period)).json()
    assert (s["calls"], s["answered"], s["missed"], s["busy"], s["cancelled"]) == (6, 3, 1, 1, 1)
    assert s["missed_rate"] == round(1 / 6, 4)
    assert s["avg_ring_seconds"] == round((5 + 20 + 3 + 10 + 1 + 8) / 6, 2)
    assert s["avg_talk_seconds"] == 70.0  # (60 + 120 + 30) / 3 answered
    s = await owner.get("/api/v1/stats/summary", params=period | {"direction": "incoming"})
    assert s.json()["calls"] == 3

    hours = (await owner.get("/api/v1/stats/calls", params=period | {"step": "hour"})).json()
    assert [(h["bucket"][:13], h["calls"]) for h in hours] == [
        ("2026-03-02T09", 3),
        ("2026-03-02T10", 2),
        ("2026-03-03T09", 1),
    ]
    days = (await owner.get("/api/v1/stats/calls", params=period)).json()
    assert [(x["bucket"][:10], x["calls"]) for x in days] == [("2026-03-02", 5), ("2026-03-03", 1)]
    # at UTC-10, 09:00 UTC is 23:00 of the day before and 10:10 UTC is 00:10 of the next
    days = (await owner.get("/api/v1/stats/calls", params=period | {"tz_hours": -10})).json()
    assert [(x["bucket"][:13], x["calls"]) for x in days] == [
        ("2026-03-01T10", 3),
        ("2026-03-02T10", 3),
    ]

    dirs = {
        r["direction"]: r
        for r in (await owner.get("/api/v1/stats/directions", params=period)).json()
    }
    assert {k: v["calls"] for k, v in dirs.items()} == {"incoming": 3, "outgoing": 2, "internal": 1}
    assert dirs["incoming"]["missed"] == 1

    emps = {
        r["employee_id"]: r
        for r in (await owner.get("/api/v1/stats/employees", params=period)).json()
    }
    assert emps[d["ann"]]["calls"] == 4 and emps[d["ann"]]["answered"] == 2
    assert emps[d["ann"]]["name"] == "Ann" and emps[d["ann"]]["extension"] == "300"
    assert emps[d["ben"]]["calls"] == 3
    deps = (await owner.get("/api/v1/stats/departments", params=period)).json()
    assert {(x["name"], x["calls"]) for x in deps} == {("Sales", 4), ("", 3)}

    load = (await owner.get("/api/v1/stats/load", params=period | {"step": "minute"})).json()
    by_minute = {x["bucket"][11:16]: x["max_concurrent"] for x in load}
    assert (by_minute["09:00"], by_minute["09:01"], by_minute["09:02"]) == (1, 2, 1)
    load = (await owner.get("/api/v1/stats/load", params=period | {"step": "day"})).json()
    assert [x["max_concurrent"] for x in load] == [2, 1]

    top = (await owner.get("/api/v1/stats/top-numbers", params=period)).json()
    assert [(x["number"], x["calls"], x["answered"]) for x in top] == [
        ("+74950000001", 3, 2),
        ("+74950000002", 1, 1),
        ("+74950000003", 1, 0),
    ]

    # managers only; another company sees nothing of this one
    ann = await api.signin("ann@stat.example.com", "password123")
    assert_error(await ann.get("/api/v1/stats/summary"), 403, "permission.denied")
    other = await api.signup_company("Other Stat", "other-stat@example.com")
    assert (await other.get("/api/v1/stats/summary", params=period)).json()["calls"] == 0
