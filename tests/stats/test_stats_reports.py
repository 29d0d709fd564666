"""Statistics by country and by line, the service report, and the line a call record keeps
(CallRecorder.started(line=...)); SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apitest import assert_error
from clickphone.bus.events import Event
from clickphone.calls.records import CallRecorder
from clickphone.db import Database
from clickphone.db.models import CallRecord, PhoneNumber, Recording
from clickphone.stats.service import StatsAggregator, country_of

T0 = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # two days before April


async def test_countries_lines_and_service_report(api: Any, app: Any, database: Database) -> None:
    owner = await api.signup_company("Report Co", "report-owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    r = await owner.post(
        "/api/v1/employees",
        json={
            "full_name": "Ann",
            "email": "ann@report.example.com",
            "password": "password123",
            "extension": "400",
        },
    )
    ann = r.json()["id"]
    recorder = CallRecorder(database)  # no task: each write is flushed at once
    # (day offset, direction, caller, callee, line, outcome, talk)
    calls = [
        (0, "incoming", "+74951234567", "400", "+74957000001", "answered", 90),
        (0, "incoming", "+493012345678", "400", "+74957000001", "missed", 0),
        (0, "outgoing", "400", "+33142685300", "+74957000002", "answered", 30),
        (1, "outgoing", "400", "+74951234567", "trunk:carrier", "answered", 60),
        (2, "internal", "400", "401", None, "busy", 0),
        (3, "incoming", "anonymous", "400", None, "answered", 120),
    ]
    for i, (day, direction, caller, callee, line, outcome, talk) in enumerate(calls):
        start = (T0 + timedelta(days=day)).timestamp()
        rid = f"rep{i:029d}"
        await recorder.started(
            record_id=rid,
            tenant_id=tenant_id,
            sip_call_id=f"rep-{i}",
            direction=direction,
            caller=caller,
            caller_name="",
            caller_employee_id=ann if direction != "incoming" else None,
            callee=callee,
            callee_employee_id=ann if direction != "outgoing" else None,
            started_at=start,
            line=line,
        )
        answered = start + 5 if outcome == "answered" else None
        await recorder.finished(
            rid,
            tenant_id=tenant_id,
            direction=direction,
            caller=caller,
            callee=callee,
            answered_at=answered,
            ended_at=start + 5 + talk,
            started_at=start,
            outcome=outcome,
            end_reason="hangup",
            legs=[],
            trace=[],
        )
    async with database.session() as s:
        rec = await s.get(CallRecord, "rep" + "0" * 29)
        assert rec is not None and rec.line == "+74957000001"
        rec = await s.get(CallRecord, f"rep{4:029d}")
        assert rec is not None and rec.line is None
    async with database.transaction() as s:
        s.add(
            PhoneNumber(
                e164="+74957000001",
                tenant_id=tenant_id,
                state="assigned",
                number_type="local",
                monthly_fee=50000,
                currency="RUB",
            )
        )
        for i, (day, size) in enumerate([(0, 1000), (3, 500)]):
            s.add(
                Recording(
                    tenant_id=tenant_id,
                    call_record_id=f"rep{i * 5:029d}",
                    sip_call_id=f"rep-{i * 5}",
                    path=f"x/{i}.ogg",
                    state="ready",
                    started_at=T0 + timedelta(days=day),
                    size_bytes=size,
                )
            )
    bus = app.state.services.bus
    agg = StatsAggregator(database, bus)
    await agg.start()
    for i in range(len(calls)):
        await bus.publish(Event("call.record", {"id": f"rep{i:029d}"}))
    await agg.stop()

    period = {"from": T0.isoformat(), "to": (T0 + timedelta(days=5)).isoformat()}
    countries = (await owner.get("/api/v1/stats/countries", params=period)).json()
    assert [(c["country"], c["calls"], c["answered"]) for c in countries] == [
        ("RU", 2, 2),
        ("", 1, 1),  # "anonymous"
        ("DE", 1, 0),
        ("FR", 1, 1),
    ]
    assert countries[0]["talk_seconds"] == 150.0
    out = await owner.get("/api/v1/stats/countries", params=period | {"direction": "outgoing"})
    assert {c["country"]: c["calls"] for c in out.json()} == {"FR": 1, "RU": 1}
    lines = (await owner.get("/api/v1/stats/lines", params=period)).json()
    assert [(x["line"], x["calls"], x["missed"]) for x in lines] == [
        ("", 2, 0),  # the internal call and the incoming one without a line
        ("+74957000001", 2, 1),
        ("+74957000002", 1, 0),
        ("trunk:carrier", 1, 0),
    ]

    report = (await owner.get("/api/v1/stats/service-report", params=period)).json()
    assert report["step"] == "month"
    assert [p["period"] for p in report["periods"]] == ["2026-03-01", "2026-04-01"]
    march, april = report["periods"]
    assert march["incoming"] == {"calls": 2, "answered": 1, "missed": 1, "minutes": 1.5}
    assert march["outgoing"]["calls"] == 2 and march["internal"]["calls"] == 0
    assert (march["recordings"], march["recording_bytes"]) == (1, 1000)
    assert (april["calls"], april["minutes"], april["recording_bytes"]) == (2, 2.0, 500)
    totals = report["totals"]
    assert (totals["calls"], totals["minutes"], totals["recordings"]) == (6, 5.0, 2)
    assert totals["outgoing"] == {"calls": 2, "answered": 2, "missed": 0, "minutes": 1.5}
    assert report["numbers"] == [
        {"number_type": "local", "currency": "RUB", "count": 1, "monthly_fee": 50000}
    ]
    assert (report["recordings_stored"], report["recordings_stored_bytes"]) == (2, 1500)
    daily = await owner.get("/api/v1/stats/service-report", params=period | {"step": "day"})
    assert [(p["period"], p["calls"]) for p in daily.json()["periods"]] == [
        ("2026-03-30", 3),
        ("2026-03-31", 1),
        ("2026-04-01", 1),
        ("2026-04-02", 1),
    ]
    long = {"from": "2025-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "step": "day"}
    assert_error(
        await owner.get("/api/v1/stats/service-report", params=long), 422, "validation.failed"
    )

    # managers only; another company sees none of it
    emp = await api.signin("ann@report.example.com", "password123")
    assert_error(await emp.get("/api/v1/stats/countries"), 403, "permission.denied")
    other = await api.signup_company("Other Report", "other-report@example.com")
    assert (await other.get("/api/v1/stats/lines", params=period)).json() == []
    other_report = (await other.get("/api/v1/stats/service-report", params=period)).json()
    assert other_report["periods"] == [] and other_report["numbers"] == []
    assert other_report["recordings_stored"] == 0


def test_country_of() -> None:
    assert country_of("+74951234567") == "RU"
    assert country_of("+77272123456") == "KZ"
    assert country_of("+493012345678") == "DE"
    assert country_of("400") == ""
    assert country_of("+800 1234 5678") == ""  # non-geographic
    assert country_of("+") == ""
