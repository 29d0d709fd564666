"""Personal forwarding: rules compiled to graphs the interpreter runs ("to my mobile after
20 s", immediately, after X rings, a chain in order), and GET/PUT /api/v1/me/forwarding with
destinations normalised like the dial plan does, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from apitest import Api, assert_error
from clickphone.db import Database
from clickphone.db.models import OutboxEvent
from clickphone.flows import interpreter as it
from clickphone.flows.forwarding import ForwardingRules, forwarding_graph
from clickphone.flows.validate import publishable, validate

AT = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def rules(*steps: tuple[str, int, str], enabled: bool = True) -> ForwardingRules:
    return ForwardingRules.model_validate(
        {
            "enabled": enabled,
            "steps": [{"destination": d, "delay": {"value": v, "unit": u}} for d, v, u in steps],
        }
    )


def test_to_my_mobile_after_20_seconds() -> None:
    graph = forwarding_graph(rules(("+79161234567", 20, "seconds")), "101", employee_id=7)
    assert publishable(validate(graph))
    step = it.start(graph, it.CallInfo(caller="+74950000000"), AT)
    assert step.action == it.Ring((7,), None, "all", 20)  # my own phones first
    step = it.advance(step.state, it.NoAnswer(AT))
    assert step.action == it.Forward("+79161234567", 0)
    step = it.advance(step.state, it.NoAnswer(AT))
    assert step.action == it.Hangup("hangup_node")
    sim = it.run_simulation(graph, AT, outcomes=["no_answer", "no_answer"])
    assert list(sim.path) == ["start", "own_phones", "forward_1", "end"]
    # Answered on my desk phone: nothing is forwarded.
    sim = it.run_simulation(graph, AT, outcomes=["answered"])
    assert list(sim.path) == ["start", "own_phones"] and sim.end == it.Done("answered")
    # Busy on my phones forwards at once.
    assert it.simulate(graph, AT, outcomes=["busy", "answered"]) == [
        "start",
        "own_phones",
        "forward_1",
    ]


def test_immediately_and_after_rings() -> None:
    now = forwarding_graph(rules(("+79161234567", 0, "seconds")), "101", employee_id=7)
    assert publishable(validate(now))
    assert it.start(now, it.CallInfo(), AT).action == it.Forward("+79161234567", 0)
    assert it.simulate(now, AT) == ["start", "forward_1", "end"]

    rings = forwarding_graph(rules(("102", 3, "rings")), "101", employee_id=7)
    assert it.start(rings, it.CallInfo(), AT).action == it.Ring((7,), None, "all", 15)


def test_chain_in_order_with_delays() -> None:
    chain = rules(
        ("102", 10, "seconds"),
        ("+79161234567", 2, "rings"),
        ("+74951112233", 0, "seconds"),
    )
    graph = forwarding_graph(chain, "101", employee_id=7)
    assert publishable(validate(graph))
    step = it.start(graph, it.CallInfo(), AT)
    actions = [step.action]
    for event in (it.NoAnswer(AT), it.Busy(AT), it.Failed(AT), it.NoAnswer(AT)):
        step = it.advance(step.state, event)
        actions.append(step.action)
    assert actions == [
        it.Ring((7,), None, "all", 10),
        it.Forward("102", 0),
        it.Forward("+79161234567", 10),  # two rings after 102 gave up
        it.Forward("+74951112233", 0),
        it.Hangup("hangup_node"),
    ]
    sim = it.run_simulation(graph, AT, node_outcomes={"forward_2": "answered"})
    assert list(sim.path) == ["start", "own_phones", "forward_1", "forward_2"]
    assert sim.end == it.Done("answered")


def test_no_steps_just_rings_me() -> None:
    graph = forwarding_graph(ForwardingRules(enabled=True), None, employee_id=3)
    assert publishable(validate(graph))
    assert it.simulate(graph, AT) == ["start", "own_phones", "end"]


async def _events(database: Database) -> list[dict[str, Any]]:
    async with database.session() as s:
        rows = await s.scalars(select(OutboxEvent).where(OutboxEvent.type == "flow.forwarding"))
        return [r.payload for r in rows.all()]


async def test_my_forwarding_api(api: Api, database: Database) -> None:
    owner = await api.signup_company("Acme", "owner@acme.example")
    ids = {}
    for name, ext in (("Ann", "201"), ("Ben", "202")):
        r = await owner.post(
            "/api/v1/employees",
            json={
                "full_name": name,
                "email": f"{name.lower()}@example.com",
                "password": "password123",
                "extension": ext,
            },
        )
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    ann_id = ids["Ann"]
    await owner.post("/api/v1/departments", json={"name": "Sales", "extension": "500"})
    ann = await api.signin("ann@example.com", "password123")

    got = (await ann.get("/api/v1/me/forwarding")).json()
    assert got == {"employee_id": ann_id, "extension": "201", "enabled": False, "steps": []}

    body = {
        "enabled": True,
        "steps": [
            {"destination": "8 (916) 123-45-67", "delay": {"value": 20, "unit": "seconds"}},
            {"destination": "202", "delay": {"value": 3, "unit": "rings"}},
            {"destination": "500", "delay": {"value": 0, "unit": "seconds"}},
            {"destination": "+1 212 555 0100"},
        ],
    }
    r = await ann.put("/api/v1/me/forwarding", json=body)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert [s["destination"] for s in saved["steps"]] == [
        "+79161234567",  # national number with the company's default country (RU)
        "202",
        "500",
        "+12125550100",
    ]
    assert saved["steps"][1]["delay"] == {"value": 3, "unit": "rings"}
    assert saved["steps"][3]["delay"] == {"value": 0, "unit": "seconds"}
    assert (await ann.get("/api/v1/me/forwarding")).json() == saved
    r = await ann.put("/api/v1/me/forwarding", json=saved)  # a GET answer sent back as is
    assert r.status_code == 200 and r.json() == saved
    tenant_id = (await ann.get("/api/v1/me")).json()["tenant"]["id"]
    assert await _events(database) == [{"tenant_id": tenant_id, "employee_id": ann_id}] * 2

    # Refused: my own extension (a loop), an extension nobody has, something not a number.
    for bad, why in (("201", "loop"), ("999", "neither"), ("call me", "neither")):
        r = await ann.put(
            "/api/v1/me/forwarding",
            json={"enabled": True, "steps": [{"destination": bad}]},
        )
        fields = assert_error(r, 422, "validation.failed")["details"]["fields"]
        assert why in fields["steps.0.destination"], fields
    r = await ann.put(
        "/api/v1/me/forwarding",
        json={"enabled": True, "steps": [{"destination": "202", "delay": {"value": -1}}]},
    )
    assert_error(r, 422, "validation.failed")
    r = await ann.put(
        "/api/v1/me/forwarding",
        json={"enabled": True, "steps": [{"destination": "202"}] * 11},
    )
    assert_error(r, 422, "validation.failed")
    # Still the last good rules; the owner's are their own.
    assert (await ann.get("/api/v1/me/forwarding")).json() == saved
    mine = (await owner.get("/api/v1/me/forwarding")).json()
    assert mine["enabled"] is False and mine["employee_id"] != ann_id
