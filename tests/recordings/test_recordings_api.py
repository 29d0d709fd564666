"""Recordings API on SQLite and PostgreSQL: list and sizes, ranges, download, share links,
roles, settings/rules, retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from apitest import assert_error
from clickphone.db import Database
from clickphone.db.models import CallRecord, Employee, Recording, RecordingSettings
from clickphone.recordings.service import RecordingService, ShareSigner


@pytest.fixture
async def service(app: Any, database: Database, tmp_path: Path) -> AsyncIterator[RecordingService]:
    services = app.state.services
    svc = RecordingService(
        database,
        services.bus,
        lambda: None,
        root=(tmp_path / "rec").resolve(),
        secret="k" * 40,
        retention_interval=0,
    )
    services.extra["recordings"] = svc
    await svc.start()
    yield svc
    await svc.stop()


async def _seed(api: Any, database: Database, service: RecordingService) -> dict[str, Any]:
    owner = await api.signup_company("Rec Co", "rec-owner@example.com")
    tenant_id = (await owner.get("/api/v1/me")).json()["tenant"]["id"]
    emp_ids = []
    for i, name in enumerate(["Ann", "Ben"]):
        r = await owner.post(
            "/api/v1/employees",
            json={
                "full_name": name,
                "email": f"{name.lower()}@example.com",
                "password": "password123",
                "extension": f"20{i}",
            },
        )
        assert r.status_code == 201, r.text
        emp_ids.append(r.json()["id"])
    now = datetime.now(UTC)
    audio = bytes(range(256)) * 40  # 10 240 bytes
    async with database.transaction() as s:
        for i, (caller_emp, age_days) in enumerate([(emp_ids[0], 0), (emp_ids[1], 1), (None, 40)]):
            rid = f"{i:032d}"
            s.add(
                CallRecord(
                    id=rid,
                    tenant_id=tenant_id,
                    sip_call_id=f"sip-{i}",
                    direction="outgoing" if caller_emp else "incoming",
                    caller="200" if caller_emp else "+74950000001",
                    caller_name="Client" if caller_emp is None else "",
                    caller_employee_id=caller_emp,
                    callee="+74951112233" if caller_emp else "201",
                    callee_employee_id=None if caller_emp else emp_ids[1],
                    started_at=now - timedelta(days=age_days),
                    outcome="answered",
                )
            )
            rel = f"{tenant_id}/x/{rid}.ogg"
            path = service.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(audio[: 10240 - i * 1000])
            s.add(
                Recording(
                    id=f"r{i:031d}",
                    tenant_id=tenant_id,
                    call_record_id=rid,
                    sip_call_id=f"sip-{i}",
                    caller_employee_id=caller_emp,
                    callee_employee_id=None if caller_emp else emp_ids[1],
                    path=rel,
                    state="ready",
                    started_at=now - timedelta(days=age_days),
                    duration_seconds=10.0 + i,
                    size_bytes=10240 - i * 1000,
                )
            )
    return {"owner": owner, "tenant_id": tenant_id, "emps": emp_ids, "audio": audio}


async def test_list_usage_playback_share_roles(
    api: Any, database: Database, service: RecordingService
) -> None:
    d = await _seed(api, database, service)
    owner = d["owner"]
    r = await owner.get("/api/v1/recordings")
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 3 and page["total_bytes"] == 10240 + 9240 + 8240
    assert [i["id"][-1] for i in page["items"]] == ["0", "1", "2"]  # newest first
    assert page["items"][2]["caller_name"] == "Client"
    r = await owner.get("/api/v1/recordings", params={"employee_id": d["emps"][1]})
    assert {i["id"][-1] for i in r.json()["items"]} == {"1", "2"}
    r = await owner.get("/api/v1/recordings", params={"q": "+7495000"})
    assert [i["id"][-1] for i in r.json()["items"]] == ["2"]
    since = (datetime.now(UTC) - timedelta(hours=12)).isoformat()
    r = await owner.get("/api/v1/recordings", params={"from": since})
    assert [i["id"][-1] for i in r.json()["items"]] == ["0"]

    usage = (await owner.get("/api/v1/recordings/usage")).json()
    assert usage["bytes"] == 27720 and usage["recordings"] == 3
    by = {u["employee_id"]: u for u in usage["by_employee"]}
    assert by[d["emps"][0]]["bytes"] == 10240
    assert by[d["emps"][1]]["bytes"] == 9240 + 8240 and by[d["emps"][1]]["recordings"] == 2

    rec0 = "r" + "0" * 31
    full = await owner.get(f"/api/v1/recordings/{rec0}/audio")
    assert full.status_code == 200 and full.content == d["audio"]
    assert full.headers["content-type"] == "audio/ogg"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-disposition"].startswith("inline")
    part = await owner.get(f"/api/v1/recordings/{rec0}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == d["audio"][100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(d['audio'])}"
    bad = await owner.get(f"/api/v1/recordings/{rec0}/audio", headers={"Range": "bytes=99999-"})
    assert bad.status_code == 416
    dl = await owner.get(f"/api/v1/recordings/{rec0}/audio", params={"download": 1})
    assert dl.headers["content-disposition"].startswith("attachment")

    # an employee sees only recordings of their own calls
    ann = await api.signin("ann@example.com", "password123")
    mine = (await ann.get("/api/v1/recordings")).json()
    assert [i["id"] for i in mine["items"]] == [rec0]
    rec1 = "r" + "0" * 30 + "1"
    assert_error(await ann.get(f"/api/v1/recordings/{rec1}/audio"), 404, "not_found")
    assert_error(await ann.get("/api/v1/recordings/usage"), 403, "permission.denied")
    # ... unless a colleague shares it: then any member of the company can play it
    share = (await owner.post(f"/api/v1/recordings/{rec1}/share", json={})).json()
    assert share["url"].startswith("/api/v1/recordings/shared/")
    got = await ann.get(share["url"], headers={"Range": "bytes=0-9"})
    assert got.status_code == 206 and got.content == d["audio"][:10]
    # not outside the company, not forged, not expired
    other = await api.signup_company("Other Co", "other@example.com")
    assert (await other.get(share["url"])).status_code == 404
    forged = share["token"][:-2] + ("AA" if share["token"][-2:] != "AA" else "BB")
    assert_error(await ann.get(f"/api/v1/recordings/shared/{forged}"), 403, "permission.denied")
    expired = service.signer.sign(rec1, 1000)
    assert_error(await ann.get(f"/api/v1/recordings/shared/{expired}"), 403, "permission.denied")
    assert ShareSigner("other-secret").verify(share["token"], 0) is None


async def test_settings_rules_and_retention(
    api: Any, database: Database, service: RecordingService
) -> None:
    d = await _seed(api, database, service)
    owner = d["owner"]
    r = await owner.get("/api/v1/recordings/settings")
    assert r.json() == {"tenant_id": d["tenant_id"], "enabled": False, "retention_days": 90}
    r = await owner.put("/api/v1/recordings/settings", json={"enabled": True, "retention_days": 30})
    assert r.status_code == 200 and r.json()["retention_days"] == 30
    r = await owner.post(
        "/api/v1/recordings/rules", json={"employee_id": d["emps"][0], "enabled": False}
    )
    assert r.status_code == 201, r.text
    r = await owner.post("/api/v1/recordings/rules", json={"number": "+74951112233"})
    assert r.status_code == 201
    assert_error(await owner.post("/api/v1/recordings/rules", json={}), 422, "validation.failed")
    rules = (await owner.get("/api/v1/recordings/rules")).json()
    assert [(x["employee_id"], x["number"], x["enabled"]) for x in rules] == [
        (d["emps"][0], None, False),
        (None, "+74951112233", True),
    ]
    ann = await api.signin("ann@example.com", "password123")
    assert_error(
        await ann.put("/api/v1/recordings/settings", json={"enabled": False, "retention_days": 1}),
        403,
        "permission.denied",
    )
    assert (await owner.delete(f"/api/v1/recordings/rules/{rules[1]['id']}")).status_code == 204

    # retention: the 40-day-old recording goes (file and row), the others stay
    assert await service.purge_expired() == 1
    async with database.session() as s:
        left = sorted((await s.scalars(select(Recording.id))).all())
        assert [x[-1] for x in left] == ["0", "1"]
        settings = await s.get(RecordingSettings, d["tenant_id"])
        assert settings is not None and settings.enabled
        assert (await s.scalars(select(Employee.id))).all()
    assert not (service.root / f"{d['tenant_id']}/x/{2:032d}.ogg").exists()
    assert (service.root / f"{d['tenant_id']}/x/{0:032d}.ogg").exists()
