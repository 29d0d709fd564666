"""Call flows through a real `clickphone serve`: a flow drawn through the API (a spoken menu
made by espeak-ng) is published on a department number, a pjsua2 caller presses a key and
reaches the right person; a new published version applies to the next call, no restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from _peers import require, require_binary
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.serve import Serve

pytestmark = pytest.mark.interop


def menu(bob: int, carol: int, on_two: int) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
            {
                "id": "menu",
                "type": "ivr_menu",
                "prompt": {"text": "Press one for sales, two for support."},
                "choices": [{"digit": "1", "output": "sales"}, {"digit": "2", "output": "help"}],
                "timeout": 8,
            },
            {"id": "sales", "type": "ring_group", "employee_ids": [bob]},
            {"id": "help", "type": "ring_group", "employee_ids": [on_two]},
            {"id": "bye", "type": "hangup"},
        ],
        "edges": [
            {"source": "start", "output": "next", "target": "menu"},
            {"source": "menu", "output": "sales", "target": "sales"},
            {"source": "menu", "output": "help", "target": "help"},
            {"source": "sales", "output": "no_answer", "target": "bye"},
            {"source": "help", "output": "no_answer", "target": "bye"},
        ],
    }


def csrf(api: httpx.Client) -> None:
    api.headers["X-CSRF-Token"] = api.cookies.get("clickphone_csrf") or ""


def call_and_press(alice: PjPhone, sip: str, digit: str, callee: PjPhone) -> None:
    alice.send("call", uri=f"sip:500@{sip}")
    alice.call_state("CONFIRMED", timeout=15)
    time.sleep(2.5)  # part of the spoken menu
    alice.send("dtmf", digits=digit)
    callee.wait_for("incoming", timeout=10)
    callee.call_state("CONFIRMED")
    time.sleep(1.0)
    alice.send("hangup")
    callee.call_state("DISCONNECTED")
    alice.call_state("DISCONNECTED")


def test_published_flow_routes_real_calls_and_new_versions_apply(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    require_binary("espeak-ng")
    server = Serve(tmp_path)
    server.start()
    phones: list[PjPhone] = []
    try:
        users = server.company(("101", "Alice"), ("102", "Bob"), ("103", "Carol"))
        for ext, name in (("101", "Alice"), ("102", "Bob"), ("103", "Carol")):
            p = PjPhone(
                registrar=server.sip,
                user=users[ext],
                password=f"Sip-{name}-Pass-1",
                workdir=tmp_path,
                name=name.lower(),
                record=ext == "101",
                auto_answer=200 if ext != "101" else 0,
                tone=1500.0 if ext != "101" else 0.0,
            )
            phones.append(p)
            p.send("register")
            assert p.wait_for("reg")["code"] == 200
        alice, bob_phone, carol_phone = phones
        with server.owner_client() as api:
            csrf(api)
            employees = api.get("/api/v1/employees").json()["items"]
            ids = {e["extension"]: e["id"] for e in employees}
            dept = api.post("/api/v1/departments", json={"name": "Front", "extension": "500"})
            assert dept.status_code == 201, dept.text
            flow = api.post("/api/v1/flows", json={"name": "Front desk"}).json()
            url = f"/api/v1/flows/{flow['id']}"
            r = api.put(f"{url}/draft", json={"graph": menu(ids["102"], ids["103"], ids["103"])})
            assert r.status_code == 200 and not [
                p for p in r.json()["problems"] if p["severity"] == "error"
            ], r.text
            assert api.post(f"{url}/publish").status_code == 201
            r = api.put(
                f"{url}/attachments", json=[{"kind": "department", "target_id": dept.json()["id"]}]
            )
            assert r.status_code == 200, r.text

            call_and_press(alice, server.sip, "2", carol_phone)  # 2 -> Carol
            # version 2 sends "2" to Bob instead; the next call follows it
            r = api.put(f"{url}/draft", json={"graph": menu(ids["102"], ids["103"], ids["102"])})
            assert r.status_code == 200
            assert api.post(f"{url}/publish").status_code == 201
            call_and_press(alice, server.sip, "2", bob_phone)
            for _ in range(50):
                log = api.get("/api/v1/calls", params={"outcome": "answered"}).json()
                if len(log["items"]) == 2:
                    break
                time.sleep(0.1)
            assert [r["callee"] for r in log["items"]] == ["500", "500"]
            detail = api.get(f"/api/v1/calls/{log['items'][0]['id']}").json()
            nodes = [t.get("node") for t in detail["trace"] if t.get("step") == "node"]
            assert nodes[:2] == ["start", "menu"] and "help" in nodes
    finally:
        for p in phones:
            p.close()
        server.stop()
    assert carol_phone.history and bob_phone.history
    assert alice.record_path is not None
    # the spoken menu (espeak-ng speech has most energy well below 1 kHz) and then the callee
    speech = heard_power(alice.record_path, 500.0) + heard_power(alice.record_path, 300.0)
    assert speech > 10 * heard_power(alice.record_path, 3500.0)
    assert heard_power(alice.record_path, 1500.0) > 20 * heard_power(alice.record_path, 3500.0)
