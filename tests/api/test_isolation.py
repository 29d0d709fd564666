"""Tenant isolation and roles, proven by walking the app's own route table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from apitest import Api, assert_error
from clickphone.db import Database
from clickphone.db.models import CallRecord, SipRegistration

# A valid body per (method, path) so validation passes and the authorization check decides.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/tenants/{tenant_id}"): {"name": "Hijacked"},
    ("PATCH", "/api/v1/departments/{department_id}"): {"name": "Hijacked"},
    ("PATCH", "/api/v1/employees/{employee_id}"): {"full_name": "Hijacked"},
    ("POST", "/api/v1/employees/{employee_id}/devices"): {"label": "evil"},
    ("POST", "/api/v1/recordings/{recording_id}/share"): {"ttl_seconds": 3600},
    ("PATCH", "/api/v1/devices/{device_id}"): {"label": "evil"},
    ("POST", "/api/v1/devices/{device_id}/rotate"): {},
    ("PATCH", "/api/v1/contacts/{contact_id}"): {"name": "Hijacked"},
    ("POST", "/api/v1/contacts/{contact_id}/shares"): {"employee_id": 1},
    ("PATCH", "/api/v1/numbers/{number_id}"): {"label": "evil"},
    ("PATCH", "/api/v1/trunks/{trunk_id}"): {"name": "evil"},
    ("POST", "/api/v1/store/requests/{request_id}/approve"): {},
    ("POST", "/api/v1/store/requests/{request_id}/reject"): {},
    ("PATCH", "/api/v1/flows/{flow_id}"): {"name": "Hijacked"},
    ("PUT", "/api/v1/flows/{flow_id}/draft"): {
        "graph": {"nodes": [{"id": "s", "type": "start"}], "edges": []}
    },
    ("POST", "/api/v1/flows/{flow_id}/simulate"): {"at": "2026-11-23T10:00:00+00:00"},
    ("PUT", "/api/v1/flows/{flow_id}/attachments"): [],  # type: ignore[dict-item]
    ("PATCH", "/api/v1/callback-sites/{site_id}"): {"name": "Hijacked"},
    ("POST", "/api/v1/messages/conversations/{conversation_id}/messages"): {"text": "evil"},
    ("POST", "/api/v1/messages/conversations/{conversation_id}/members"): {"add": []},
    ("POST", "/api/v1/messages/{message_id}/email"): {},
    ("POST", "/api/v1/messages/campaigns/{campaign_id}/repeat"): {"recipients": "all"},
}
# Reached by key, not by session: the widget's endpoint (the key is the site's secret).
PUBLIC = ("/api/v1/public/",)


async def _tenant_a(api: Api, database: Database) -> tuple[httpx.AsyncClient, dict[str, int]]:
    a = await api.signup_company("Alpha", "alpha@example.com")
    ids: dict[str, int] = {}
    me = (await a.get("/api/v1/me")).json()
    ids["tenant_id"] = me["tenant"]["id"]
    ids["department_id"] = (await a.post("/api/v1/departments", json={"name": "Sales"})).json()[
        "id"
    ]
    emp = (
        await a.post(
            "/api/v1/employees",
            json={
                "full_name": "Al Pha",
                "email": "al@example.com",
                "password": "password123",
                "department_id": ids["department_id"],
                "create_device": True,
            },
        )
    ).json()
    ids["employee_id"] = emp["id"]
    ids["device_id"] = emp["device"]["id"]
    al_user = emp["user_id"]
    ids["contact_id"] = (
        await a.post(
            "/api/v1/contacts",
            json={"name": "Client", "numbers": [{"number": "+14155550100"}], "shared": True},
        )
    ).json()["id"]
    ids["token_id"] = (await a.post("/api/v1/tokens", json={"name": "t"})).json()["id"]
    # A personal contact of A's owner, shared with A's department.
    mine = (await a.post("/api/v1/contacts", json={"name": "Mine"})).json()["id"]
    ids["share_id"] = (
        await a.post(
            f"/api/v1/contacts/{mine}/shares", json={"department_id": ids["department_id"]}
        )
    ).json()["id"]
    # An operator assigns a number to tenant A (directly through the service layer).
    from clickphone.numbers.service import NumberService

    async with database.session() as s:
        row = await NumberService().add_unchecked(s, "+14155550199", tenant_id=ids["tenant_id"])
        ids["number_id"] = row.id
        s.add(
            SipRegistration(
                device_id=ids["device_id"],
                tenant_id=ids["tenant_id"],
                contact_uri="sip:al@192.0.2.1:5060",
                received_host="192.0.2.1",
                received_port=5060,
                transport="udp",
                user_agent="Linphone",
                call_id="c1",
                cseq=1,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            )
        )
        s.add(
            CallRecord(
                id="a" * 32,
                tenant_id=ids["tenant_id"],
                sip_call_id="call-1",
                direction="internal",
                caller="101",
                callee="102",
                callee_employee_id=ids["employee_id"],
                started_at=datetime.now(UTC),
                outcome="answered",
            )
        )
        await s.commit()
    ids["record_id"] = "a" * 32  # type: ignore[assignment]
    ids["call_id"] = ids["record_id"]
    # A recording rule and a recording of tenant A (share tokens are checked per tenant).
    from clickphone.db.models import Recording, RecordingRule

    async with database.session() as s:
        rule = RecordingRule(tenant_id=ids["tenant_id"], number="+14155550100")
        s.add(rule)
        s.add(
            Recording(
                id="r" * 32,
                tenant_id=ids["tenant_id"],
                call_record_id="a" * 32,
                sip_call_id="call-1",
                path=f"{ids['tenant_id']}/r.ogg",
                state="ready",
            )
        )
        await s.commit()
        ids["rule_id"] = rule.id
    ids["recording_id"] = "r" * 32  # type: ignore[assignment]
    ids["token"] = "r" * 32 + ".9999999999.forged"  # type: ignore[assignment]
    # Trunks, blacklist entries and store orders of tenant A.
    from clickphone.db.models import BlockedNumber, NumberRequest, Trunk

    async with database.session() as s:
        trunk = Trunk(name="alpha-own", kind="ip", host="192.0.2.10", tenant_id=ids["tenant_id"])
        blocked = BlockedNumber(tenant_id=ids["tenant_id"], pattern="+14155550111")
        order = NumberRequest(tenant_id=ids["tenant_id"], kind="tariff")
        s.add_all([trunk, blocked, order])
        await s.commit()
        ids["trunk_id"] = trunk.id
        ids["blocked_id"] = blocked.id
        ids["request_id"] = order.id
    # A call flow with a published version, a prompt, a click-to-call site, a notification.
    flow = (await a.post("/api/v1/flows", json={"name": "Main"})).json()
    ids["flow_id"] = flow["id"]
    assert (await a.post(f"/api/v1/flows/{flow['id']}/publish")).status_code == 201
    ids["version"] = 1
    site = await a.post(
        "/api/v1/callback-sites",
        json={
            "name": "Web",
            "allowed_origins": ["https://alpha.example"],
            "employee_id": ids["employee_id"],
        },
    )
    assert site.status_code == 201, site.text
    ids["site_id"] = site.json()["id"]
    from clickphone.db.models import Notification, Prompt

    async with database.session() as s:
        prompt = Prompt(tenant_id=ids["tenant_id"], name="Hello", source="tts", text="Hello")
        note = Notification(
            tenant_id=ids["tenant_id"], user_id=me["user"]["id"], kind="store.approved", title="t"
        )
        s.add_all([prompt, note])
        await s.commit()
        ids["prompt_id"] = prompt.id  # type: ignore[assignment]
        ids["notification_id"] = note.id
    # A chat with a message in it, and a mailing.
    conv = await a.post(
        "/api/v1/messages/conversations", json={"kind": "direct", "user_id": al_user}
    )
    assert conv.status_code == 201, conv.text
    ids["conversation_id"] = conv.json()["id"]
    msg = await a.post(
        f"/api/v1/messages/conversations/{ids['conversation_id']}/messages", json={"text": "hi"}
    )
    ids["message_id"] = msg.json()["id"]
    camp = await a.post(
        "/api/v1/messages/campaigns",
        json={"channel": "chat", "text": "all hands", "all_employees": True},
    )
    assert camp.status_code == 201, camp.text
    ids["campaign_id"] = camp.json()["id"]
    # A voicemail left for Al.
    from clickphone.voicemail.service import store_voicemail

    vm = await store_voicemail(
        database,
        call_id="v" * 32,
        tenant_id=ids["tenant_id"],
        owner_employee_id=ids["employee_id"],
        caller="+74951234567",
        caller_name="",
        callee="100",
        path="voicemail/none.wav",
        seconds=3.0,
    )
    ids["voicemail_id"] = vm.id  # type: ignore[assignment]
    return a, ids


def _id_routes(app: Any) -> list[tuple[str, str]]:
    """Every /api/v1 (method, path) with a path parameter, from the app's route table."""
    out = []
    for path, ops in app.openapi()["paths"].items():
        if path.startswith("/api/v1") and "{" in path:
            out.extend((m.upper(), path) for m in sorted(ops))
    return out


async def test_other_tenant_cannot_read_or_change_anything(
    api: Api, app: Any, database: Database
) -> None:
    a, ids = await _tenant_a(api, database)
    b = await api.signup_company("Beta", "beta@example.com")
    routes = _id_routes(app)
    assert len(routes) >= 20
    for method, path in routes:
        if path.startswith(PUBLIC):
            continue
        params = re.findall(r"{(\w+)}", path)
        missing = [p for p in params if p not in ids]
        assert not missing, f"add an id for {missing} in {path}"
        url = path.format(**ids)
        body = BODIES.get((method, path))
        r = await b.request(method, url, json=body if method in {"POST", "PATCH", "PUT"} else None)
        assert r.status_code in (403, 404), f"{method} {url} -> {r.status_code} {r.text}"
        error_id = r.json()["error_id"]
        # a feature may name what was not found (messaging.conversation_not_found): for a
        # missing and a foreign row alike
        assert error_id in {"not_found", "permission.denied"} or error_id.endswith(
            ("_not_found", ".not_found")
        ), (
            method,
            url,
            error_id,
        )

    # Lists show B nothing of A's.
    for path in (
        "/api/v1/departments",
        "/api/v1/employees",
        "/api/v1/devices",
        "/api/v1/contacts",
        "/api/v1/numbers",
        "/api/v1/registrations",
        "/api/v1/tenants",
        "/api/v1/tokens",
        "/api/v1/trunks",
        "/api/v1/store/requests",
        "/api/v1/messages/conversations",
        "/api/v1/messages/campaigns",
        "/api/v1/messages/history",
        "/api/v1/voicemails",
    ):
        r = await b.get(path)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        items = body["items"] if isinstance(body, dict) else body
        if path == "/api/v1/tenants":
            assert [t["id"] for t in items] != [ids["tenant_id"]] and len(items) == 1
        elif path == "/api/v1/employees":
            assert all(e["tenant_id"] != ids["tenant_id"] for e in items)
        else:
            assert items == [], (path, items)

    # A's data is untouched.
    assert (await a.get(f"/api/v1/departments/{ids['department_id']}")).json()["name"] == "Sales"
    emp = (await a.get(f"/api/v1/employees/{ids['employee_id']}")).json()
    assert emp["full_name"] == "Al Pha"
    dev = (await a.get(f"/api/v1/devices/{ids['device_id']}")).json()
    assert dev["label"] == "" and dev["online"] is True
    assert (await a.get(f"/api/v1/contacts/{ids['contact_id']}")).json()["name"] == "Client"
    assert (await a.get("/api/v1/tokens")).json()[0]["id"] == ids["token_id"]
    assert (await a.get(f"/api/v1/tenants/{ids['tenant_id']}")).json()["name"] == "Alpha"


async def test_cross_tenant_references_in_bodies_are_refused(api: Api, database: Database) -> None:
    _, ids = await _tenant_a(api, database)
    b = await api.signup_company("Beta", "beta@example.com")
    r = await b.post(
        "/api/v1/employees",
        json={"full_name": "X", "email": "x@example.com", "department_id": ids["department_id"]},
    )
    assert_error(r, 422, "validation.failed")
    r = await b.post("/api/v1/departments", json={"name": "X", "tenant_id": ids["tenant_id"]})
    assert_error(r, 403, "permission.denied")


async def test_employee_cannot_do_admin_work(api: Api, database: Database) -> None:
    a, ids = await _tenant_a(api, database)
    emp = await api.signin("al@example.com", "password123")
    # Reading the directory is fine.
    assert (await emp.get("/api/v1/employees")).status_code == 200
    assert (await emp.get(f"/api/v1/contacts/{ids['contact_id']}")).status_code == 200
    owner_emp = (await a.get("/api/v1/employees")).json()["items"]
    forbidden = [
        ("POST", "/api/v1/departments", {"name": "X"}),
        ("PATCH", f"/api/v1/departments/{ids['department_id']}", {"name": "X"}),
        ("DELETE", f"/api/v1/departments/{ids['department_id']}", None),
        ("POST", "/api/v1/employees", {"full_name": "X", "email": "x@example.com"}),
        ("PATCH", f"/api/v1/employees/{ids['employee_id']}", {"role": "tenant_admin"}),
        ("DELETE", f"/api/v1/employees/{ids['employee_id']}", None),
        ("POST", "/api/v1/contacts", {"name": "Shared", "shared": True}),
        ("PATCH", f"/api/v1/contacts/{ids['contact_id']}", {"name": "X"}),
        ("DELETE", f"/api/v1/contacts/{ids['contact_id']}", None),
        ("POST", "/api/v1/numbers", {"e164": "+14155550123"}),
        ("PATCH", f"/api/v1/numbers/{ids['number_id']}", {"label": "x"}),
        (
            "POST",
            "/api/v1/tenants",
            {"name": "T", "owner_email": "t@example.com", "owner_password": "password123"},
        ),
        ("PATCH", f"/api/v1/tenants/{ids['tenant_id']}", {"name": "X"}),
    ]
    for other in owner_emp:
        if other["id"] != ids["employee_id"]:
            forbidden.append(("POST", f"/api/v1/employees/{other['id']}/devices", {}))
    for method, url, body in forbidden:
        r = await emp.request(method, url, json=body)
        assert r.status_code == 403, f"{method} {url} -> {r.status_code} {r.text}"
        assert r.json()["error_id"] == "permission.denied"
    # ... but manages their own profile, devices and personal contacts.
    assert (await emp.patch("/api/v1/me", json={"position": "Sales rep"})).status_code == 200
    assert (
        await emp.post(f"/api/v1/employees/{ids['employee_id']}/devices", json={"label": "desk"})
    ).status_code == 201
    r = await emp.post("/api/v1/contacts", json={"name": "Mine", "numbers": [{"number": "555"}]})
    assert r.status_code == 201 and r.json()["shared"] is False
    # Personal contacts are private, even from the owner.
    assert_error(await a.get(f"/api/v1/contacts/{r.json()['id']}"), 404, "not_found")
