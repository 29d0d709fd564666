"""Call flows over the HTTP API on SQLite and PostgreSQL: drafts with problems, publish,
versions and rollback, attachments and tenant isolation, the simulator, module switches,
department extensions."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.db import Database
from clickphone.db.models import OutboxEvent, PhoneNumber

WEEKDAYS_9_TO_6 = {d: [{"start": "09:00", "end": "18:00"}] for d in ("mon", "tue", "wed", "thu")}


def company_graph(*, menu_prompt: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start"},
            {
                "id": "hours",
                "type": "time_condition",
                "timezone": "Europe/Moscow",
                "hours": WEEKDAYS_9_TO_6,
            },
            {"id": "ivr_on", "type": "module_switch", "module": "ivr"},
            {
                "id": "menu",
                "type": "ivr_menu",
                "prompt": menu_prompt or {"text": "Press 1 for sales, 2 for support."},
                "choices": [{"digit": "1", "output": "sales"}, {"digit": "2", "output": "support"}],
                "repeats": 0,
            },
            {"id": "sales", "type": "forward", "destination": "+74951112233"},
            {"id": "support", "type": "forward", "destination": "+74954445566"},
            {"id": "vm", "type": "voicemail", "greeting": {"text": "Leave a message."}},
        ],
        "edges": [
            {"source": "start", "output": "next", "target": "hours"},
            {"source": "hours", "output": "open", "target": "ivr_on"},
            {"source": "hours", "output": "closed", "target": "vm"},
            {"source": "ivr_on", "output": "enabled", "target": "menu"},
            {"source": "ivr_on", "output": "disabled", "target": "sales"},
            {"source": "menu", "output": "sales", "target": "sales"},
            {"source": "menu", "output": "support", "target": "support"},
            {"source": "menu", "output": "timeout", "target": "vm"},
            {"source": "support", "output": "failed", "target": "vm"},
        ],
    }


async def _events(database: Database, type_: str) -> list[dict[str, Any]]:
    async with database.session() as s:
        rows = await s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.created_at)
        )
        return [r.payload for r in rows.all()]


async def _tenant_id(c: httpx.AsyncClient) -> int:
    return int((await c.get("/api/v1/me")).json()["tenant"]["id"])


async def _employee(c: httpx.AsyncClient, name: str, ext: str) -> dict[str, Any]:
    r = await c.post(
        "/api/v1/employees",
        json={
            "full_name": name,
            "email": f"{name.lower()}@example.com",
            "password": "password123",
            "extension": ext,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_draft_publish_versions_rollback(api: Api, database: Database) -> None:
    c = await api.signup_company("Acme", "owner@acme.example")
    tid = await _tenant_id(c)
    r = await c.post("/api/v1/flows", json={"name": "Main line"})
    assert r.status_code == 201, r.text
    flow = r.json()
    fid = flow["id"]
    assert flow["published_version"] is None and flow["problems"] == []
    assert {n["type"] for n in flow["draft"]["nodes"]} == {"start", "hangup"}
    assert_error(await c.post("/api/v1/flows", json={"name": "Main line"}), 409, "flow_name_taken")

    # A draft with mistakes is saved, and every problem is named on its node.
    bad = company_graph(menu_prompt={"audio": "0" * 32})
    bad["nodes"].append({"id": "lonely", "type": "play"})
    bad["nodes"][3]["choices"].append({"digit": "1", "output": "support"})
    r = await c.put(f"/api/v1/flows/{fid}/draft", json={"graph": bad})
    assert r.status_code == 200, r.text
    problems = {(p["code"], p["node_id"]) for p in r.json()["problems"]}
    assert ("missing_audio", "menu") in problems  # prompt id that does not exist
    assert ("duplicate_digit", "menu") in problems
    assert ("unreachable_node", "lonely") in problems and ("missing_audio", "lonely") in problems
    assert (await c.get(f"/api/v1/flows/{fid}")).json()["draft"]["nodes"][0]["id"] == "hours"

    # Not a flow graph at all: refused with the fields named.
    r = await c.put(
        f"/api/v1/flows/{fid}/draft", json={"graph": {"nodes": [{"id": "x", "type": "teleport"}]}}
    )
    body = assert_error(r, 422, "flow_schema")
    assert any(k.startswith("nodes.0") for k in body["details"]["fields"])

    # An invalid graph cannot be published.
    r = await c.post(f"/api/v1/flows/{fid}/publish")
    body = assert_error(r, 422, "flow_invalid")
    assert {"menu", "lonely"} <= {p["node_id"] for p in body["details"]["problems"]}
    assert (await c.get(f"/api/v1/flows/{fid}")).json()["published_version"] is None

    good = company_graph()
    r = await c.put(f"/api/v1/flows/{fid}/draft", json={"graph": good})
    assert r.json()["problems"] == []
    r = await c.post(f"/api/v1/flows/{fid}/publish")
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == 1 and v1["current"] and v1["graph"]["version"] == 1
    assert v1["published_by_name"] == "Owner of Acme"

    changed = company_graph()
    changed["nodes"][4]["destination"] = "+74957778899"
    await c.put(f"/api/v1/flows/{fid}/draft", json={"graph": changed})
    assert (await c.post(f"/api/v1/flows/{fid}/publish")).json()["version"] == 2

    r = await c.post(f"/api/v1/flows/{fid}/versions/1/rollback")
    assert r.status_code == 201, r.text
    v3 = r.json()
    assert (v3["version"], v3["rollback_of"], v3["current"]) == (3, 1, True)
    sales = {n["id"]: n for n in v3["graph"]["nodes"]}["sales"]
    assert sales["destination"] == "+74951112233"
    flow = (await c.get(f"/api/v1/flows/{fid}")).json()
    assert flow["published_version"] == 3
    assert {n["id"]: n for n in flow["draft"]["nodes"]}["sales"]["destination"] == "+74951112233"

    page = (await c.get(f"/api/v1/flows/{fid}/versions")).json()
    assert page["total"] == 3
    assert [(v["version"], v["current"]) for v in page["items"]] == [
        (3, True),
        (2, False),
        (1, False),
    ]
    old = (await c.get(f"/api/v1/flows/{fid}/versions/2")).json()
    assert {n["id"]: n for n in old["graph"]["nodes"]}["sales"]["destination"] == "+74957778899"
    assert_error(await c.get(f"/api/v1/flows/{fid}/versions/9"), 404, "not_found")
    assert_error(await c.post(f"/api/v1/flows/{fid}/versions/9/rollback"), 404, "not_found")

    published = await _events(database, "flow.published")
    assert [e["version"] for e in published] == [1, 2, 3]
    assert all(e == {"tenant_id": tid, "flow_id": fid, "version": e["version"]} for e in published)

    listing = (await c.get("/api/v1/flows", params={"q": "main"})).json()
    assert listing["total"] == 1 and listing["items"][0]["published_version"] == 3

    r = await c.patch(f"/api/v1/flows/{fid}", json={"name": "Reception"})
    assert r.json()["name"] == "Reception"
    assert (await c.delete(f"/api/v1/flows/{fid}")).status_code == 204
    assert_error(await c.get(f"/api/v1/flows/{fid}"), 404, "not_found")
    assert await _events(database, "flow.deleted") == [{"tenant_id": tid, "flow_id": fid}]


async def test_attachments_roles_and_isolation(api: Api, database: Database) -> None:
    a = await api.signup_company("Acme", "owner@acme.example")
    b = await api.signup_company("Other", "owner@other.example")
    ta, tb = await _tenant_id(a), await _tenant_id(b)
    async with database.transaction() as s:
        na = PhoneNumber(e164="+74950000001", tenant_id=ta, state="assigned", label="Office")
        nb = PhoneNumber(e164="+74950000002", tenant_id=tb, state="assigned")
        s.add_all([na, nb])
    emp = await _employee(a, "Ann", "201")
    dep = (await a.post("/api/v1/departments", json={"name": "Sales", "extension": "500"})).json()
    assert dep["extension"] == "500"

    fid = (await a.post("/api/v1/flows", json={"name": "Main"})).json()["id"]
    targets = [
        {"kind": "number", "target_id": na.id},
        {"kind": "employee", "target_id": emp["id"]},
        {"kind": "department", "target_id": dep["id"]},
    ]
    r = await a.put(f"/api/v1/flows/{fid}/attachments", json=targets)
    assert r.status_code == 200, r.text
    labels = {(x["kind"], x["target_id"]): x["label"] for x in r.json()}
    assert labels[("number", na.id)] == "+74950000001 (Office)"
    assert labels[("employee", emp["id"])] == "Ann (201)"
    assert labels[("department", dep["id"])] == "Sales (500)"
    assert len((await a.get(f"/api/v1/flows/{fid}")).json()["attachments"]) == 3

    # Another company's number is not ours to attach.
    r = await a.put(
        f"/api/v1/flows/{fid}/attachments", json=[{"kind": "number", "target_id": nb.id}]
    )
    body = assert_error(r, 422, "validation.failed")
    assert "0.target_id" in body["details"]["fields"]
    # A target has one flow.
    other = (await a.post("/api/v1/flows", json={"name": "Night"})).json()["id"]
    r = await a.put(f"/api/v1/flows/{other}/attachments", json=targets[:1])
    body = assert_error(r, 409, "flow_target_taken")
    assert body["details"]["flow_id"] == fid
    # Replacing the list drops what is not in it.
    r = await a.put(f"/api/v1/flows/{fid}/attachments", json=targets[1:])
    assert {x["kind"] for x in r.json()} == {"employee", "department"}
    r = await a.put(f"/api/v1/flows/{other}/attachments", json=targets[:1])
    assert r.status_code == 200, r.text
    assert len(await _events(database, "flow.attachments")) == 3

    # Tenant isolation: the other company sees none of it.
    assert_error(await b.get(f"/api/v1/flows/{fid}"), 404, "not_found")
    assert_error(
        await b.put(f"/api/v1/flows/{fid}/draft", json={"graph": company_graph()}), 404, "not_found"
    )
    assert_error(await b.post(f"/api/v1/flows/{fid}/publish"), 404, "not_found")
    assert_error(await b.get(f"/api/v1/flows/{fid}/versions"), 404, "not_found")
    assert_error(await b.delete(f"/api/v1/flows/{fid}"), 404, "not_found")
    r = await b.post(f"/api/v1/flows/{fid}/simulate", json={"at": "2026-11-23T10:00:00Z"})
    assert_error(r, 404, "not_found")
    assert (await b.get("/api/v1/flows")).json()["total"] == 0
    # B may not attach A's number either, nor A's employee.
    bf = (await b.post("/api/v1/flows", json={"name": "B"})).json()["id"]
    for kind, target in (("number", na.id), ("employee", emp["id"]), ("department", dep["id"])):
        r = await b.put(
            f"/api/v1/flows/{bf}/attachments", json=[{"kind": kind, "target_id": target}]
        )
        assert_error(r, 422, "validation.failed")

    # Employees read flows but do not change them.
    ann = await api.signin("ann@example.com", "password123")
    assert (await ann.get(f"/api/v1/flows/{fid}")).status_code == 200
    assert_error(await ann.post(f"/api/v1/flows/{fid}/publish"), 403, "permission.denied")
    assert_error(await ann.post("/api/v1/flows", json={"name": "Mine"}), 403, "permission.denied")
    r = await ann.put(f"/api/v1/flows/{fid}/draft", json={"graph": company_graph()})
    assert_error(r, 403, "permission.denied")
    assert_error(
        await ann.put("/api/v1/flow-modules", json={"modules": {"ivr": True}}),
        403,
        "permission.denied",
    )


async def test_simulate_path_and_modules(api: Api, database: Database) -> None:
    c = await api.signup_company("Acme", "owner@acme.example")
    tid = await _tenant_id(c)
    fid = (await c.post("/api/v1/flows", json={"name": "Main", "graph": company_graph()})).json()[
        "id"
    ]
    monday_11_msk = "2026-11-23T08:00:00Z"
    sunday = "2026-11-22T08:00:00Z"

    async def sim(**body: Any) -> dict[str, Any]:
        r = await c.post(f"/api/v1/flows/{fid}/simulate", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    # The module is off until switched on: the IVR is skipped.
    out = await sim(at=monday_11_msk, digits="2")
    assert out["path"] == ["start", "hours", "ivr_on", "sales"]
    assert out["action"] == {"type": "hangup", "reason": "unwired_output"}
    modules = (await c.get("/api/v1/flow-modules")).json()
    assert modules == {"modules": {"ivr": False}}  # named by the flow, never switched
    r = await c.put("/api/v1/flow-modules", json={"modules": {"ivr": True, "recording": False}})
    assert r.json() == {"modules": {"ivr": True, "recording": False}}
    assert await _events(database, "flow.modules") == [
        {"tenant_id": tid, "modules": {"ivr": True, "recording": False}}
    ]

    out = await sim(at=monday_11_msk, digits="2", outcomes={"support": "busy"})
    assert out["path"] == ["start", "hours", "ivr_on", "menu", "support", "vm"]
    assert out["action"]["type"] == "voicemail"
    assert out["action"]["greeting"] == {"audio": None, "text": "Leave a message."}
    kinds = [(t["node_id"], t["output"]) for t in out["trace"]]
    assert ("menu", "support") in kinds and ("support", "failed") in kinds
    out = await sim(at=monday_11_msk, digits="2", outcomes={"support": "answered"})
    assert out["path"][-1] == "support" and out["action"] == {"type": "done", "reason": "answered"}
    # Silence at the menu: the timeout branch.
    out = await sim(at=monday_11_msk, digits="-")
    assert out["path"][-2:] == ["menu", "vm"]
    # Closed on Sunday, and the module can be overridden for one test call.
    assert (await sim(at=sunday))["path"] == ["start", "hours", "vm"]
    out = await sim(at=monday_11_msk, digits="1", modules={"ivr": False})
    assert out["path"] == ["start", "hours", "ivr_on", "sales"]
    # An unsaved graph can be simulated; one that is not a graph is refused.
    other = company_graph()
    other["edges"][1]["target"] = "vm"
    assert (await sim(at=monday_11_msk, graph=other))["path"] == ["start", "hours", "vm"]
    r = await c.post(
        f"/api/v1/flows/{fid}/simulate", json={"at": monday_11_msk, "graph": {"nodes": 3}}
    )
    assert_error(r, 422, "flow_schema")
    r = await c.post(
        f"/api/v1/flows/{fid}/simulate",
        json={"at": monday_11_msk, "graph": {"nodes": [{"id": "h", "type": "hangup"}]}},
    )
    body = assert_error(r, 422, "flow_invalid")
    assert "missing_start" in {p["code"] for p in body["details"]["problems"]}
    r = await c.post(f"/api/v1/flows/{fid}/simulate", json={"at": monday_11_msk, "digits": "1x"})
    assert_error(r, 422, "validation.failed")


async def test_department_extension(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@acme.example")
    await _employee(c, "Ann", "201")
    r = await c.post("/api/v1/departments", json={"name": "Sales", "extension": "201"})
    assert_error(r, 409, "conflict.extension_taken")
    dep = (await c.post("/api/v1/departments", json={"name": "Sales", "extension": "500"})).json()
    r = await c.post("/api/v1/departments", json={"name": "Support", "extension": "500"})
    assert_error(r, 409, "conflict.extension_taken")
    r = await c.post(
        "/api/v1/employees",
        json={"full_name": "Bob", "email": "bob@example.com", "extension": "500"},
    )
    assert_error(r, 409, "conflict.extension_taken")
    r = await c.patch(f"/api/v1/departments/{dep['id']}", json={"extension": "201"})
    assert_error(r, 409, "conflict.extension_taken")
    r = await c.patch(f"/api/v1/departments/{dep['id']}", json={"description": "x"})
    assert r.json()["extension"] == "500"  # untouched when not sent
    r = await c.patch(f"/api/v1/departments/{dep['id']}", json={"extension": None})
    assert r.status_code == 200 and r.json()["extension"] is None
    listed = (await c.get("/api/v1/departments")).json()["items"]
    assert listed[0]["extension"] is None
    assert_error(
        await c.post("/api/v1/departments", json={"name": "X", "extension": "12ab"}),
        422,
        "validation.failed",
    )
