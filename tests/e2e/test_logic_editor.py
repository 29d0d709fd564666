"""The Logic editor in a real browser: a company owner creates a call flow, drags an IVR menu
and a ring group from the palette onto the React Flow canvas, wires outputs to inputs by
dragging handles, sets their properties, sees the badge of an unwired required output, fixes
it, publishes version 1, finds it in the history, runs the test-call simulator with key "1"
and sees the walked path highlighted; the API then holds exactly that graph. Screenshots go
to test-artifacts/.

Then a real call follows the drawn graph: the flow is attached to the owner's extension, a
pjsua2 caller dials it, hears the spoken menu (espeak-ng), presses 1 and the owner's phone
(the ring group) rings and answers."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from _peers import require, require_binary
from interop.pjua import PjPhone, heard_power, pjsua2_available

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OWNER = {"email": "owner@logic.example", "password": "Owner-Pass-123"}
IVR = "ivr_menu_1"
RING = "ring_group_1"


def _center(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def wire(page: Any, source: str, output: str, target: str) -> None:
    """Drags from ``source``'s ``output`` handle onto ``target``'s input handle."""
    sx, sy = _center(page.get_by_test_id(f"handle-{source}-{output}"))
    tx, ty = _center(page.get_by_test_id(f"handle-in-{target}"))
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + tx) / 2, (sy + ty) / 2, steps=8)
    page.mouse.move(tx, ty, steps=8)
    page.mouse.up()
    page.locator(f'[data-testid="rf__edge-{source}:{output}->{target}"]').wait_for()


def drop_from_palette(page: Any, node_type: str, x: float, y: float) -> None:
    """Drags a palette item onto the canvas at (x, y) relative to the canvas' top left."""
    canvas = page.get_by_test_id("flow-canvas")
    page.get_by_test_id(f"palette-{node_type}").drag_to(canvas, target_position={"x": x, "y": y})


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'[data-testid="flow-node"][data-node-id="{node_id}"]')


def select_node(page: Any, node_id: str) -> None:
    node(page, node_id).get_by_test_id("flow-node-label").click()
    page.locator(f'[data-testid="node-panel"][data-node-id="{node_id}"]').wait_for()


def test_logic_editor_draw_publish_simulate(
    server: Any, chromium_browser: Any, shot: Any, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    require_binary("espeak-ng")
    from playwright.sync_api import expect

    context = chromium_browser.new_context(locale="en-US", viewport={"width": 1760, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # -- sign up a company, open Logic, create a flow ---------------------------------
        page.goto(f"{server.base_url}/signup")
        page.get_by_label("Company name").fill("Logic Ltd")
        page.get_by_label("Full name").fill("Olga Owner")
        page.get_by_label("E-mail").fill(OWNER["email"])
        page.get_by_label("Password", exact=False).first.fill(OWNER["password"])
        page.get_by_role("button", name="Create an account").click()
        page.wait_for_url(re.compile(r"/employees$"))
        page.get_by_role("link", name="Logic").click()
        page.wait_for_url(re.compile(r"/logic$"))
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.get_by_test_id("flow-create").click()
        page.get_by_test_id("flow-create-name").fill("Main line")
        page.get_by_test_id("flow-create-save").click()
        page.wait_for_url(re.compile(r"/logic/\d+$"))
        flow_id = int(page.url.rsplit("/", 1)[1])
        # A new flow is start -> hang up.
        expect(page.get_by_test_id("flow-node")).to_have_count(2)
        expect(node(page, "start")).to_be_visible()
        expect(node(page, "hangup")).to_be_visible()

        # -- drag an IVR menu and a ring group from the palette ---------------------------
        canvas = page.get_by_test_id("flow-canvas").bounding_box()
        assert canvas is not None
        cx, cy = canvas["width"] / 2, canvas["height"] / 2
        drop_from_palette(page, "ivr_menu", cx + 260, cy - 60)
        expect(node(page, IVR)).to_be_visible()
        drop_from_palette(page, "ring_group", cx + 260, cy + 170)
        expect(node(page, RING)).to_be_visible()
        expect(page.get_by_test_id("flow-node")).to_have_count(4)
        # The IVR menu has one handle per key output plus "invalid" and "timeout".
        for output in ("1", "invalid", "timeout"):
            expect(page.get_by_test_id(f"handle-{IVR}-{output}")).to_be_visible()

        # -- wire: start -> IVR (replaces start -> hang up), IVR key 1 -> ring group -------
        wire(page, "start", "next", IVR)
        expect(page.locator('[data-testid="rf__edge-start:next->hangup"]')).to_have_count(0)
        wire(page, IVR, "1", RING)

        # -- properties: the menu's prompt text, the ring group's member and ring time ----
        select_node(page, IVR)
        expect(node(page, IVR)).to_have_attribute("data-problems", re.compile("missing_audio"))
        page.get_by_test_id("prop-prompt-text").fill("Press 1 for sales")
        page.get_by_test_id("prop-label").fill("Main menu")
        expect(node(page, IVR).get_by_test_id("flow-node-label")).to_have_text("Main menu")
        expect(node(page, IVR)).not_to_have_attribute("data-problems", re.compile("missing_audio"))
        select_node(page, RING)
        page.get_by_test_id("prop-employees").click()
        page.get_by_role("option", name=re.compile("Olga Owner")).click()
        page.keyboard.press("Escape")
        page.get_by_test_id("prop-ring-time").fill("20")
        page.get_by_test_id("prop-label").fill("Sales")

        # -- the ring group's required "no answer" output is unwired: a red badge ---------
        page.keyboard.press("Control+s")
        expect(page.get_by_test_id("flow-dirty")).to_have_count(0)
        ring = node(page, RING)
        expect(ring.get_by_test_id("node-problem-badge")).to_be_visible()
        expect(ring).to_have_attribute("data-problems", re.compile("missing_branch"))
        expect(node(page, "hangup")).to_have_attribute(
            "data-problems", re.compile("unreachable_node")
        )
        expect(page.get_by_test_id("flow-problem-count")).to_have_attribute("data-count", "2")
        shot(page, "logic-01-unwired-output")
        # Publishing is refused while there are errors.
        page.get_by_test_id("flow-publish").click()
        expect(page.get_by_text("Not published: fix 2 errors", exact=False)).to_be_visible()
        expect(page.get_by_test_id("flow-published")).to_have_text("Not published")

        # -- fix it: no answer -> hang up ------------------------------------------------
        wire(page, RING, "no_answer", "hangup")
        expect(ring.get_by_test_id("node-problem-badge")).to_have_count(0)
        expect(node(page, "hangup").get_by_test_id("node-problem-badge")).to_have_count(0)
        expect(page.get_by_test_id("flow-problem-count")).to_have_attribute("data-count", "0")

        # -- publish (saves the draft first), version 1 in the history --------------------
        page.get_by_test_id("flow-publish").click()
        expect(page.get_by_test_id("flow-published")).to_have_text("Version 1")
        expect(page.get_by_test_id("flow-dirty")).to_have_count(0)
        page.get_by_test_id("flow-history").click()
        version = page.locator('[data-testid="flow-version"][data-version="1"]')
        expect(version).to_be_visible()
        expect(version).to_contain_text("Live")
        expect(version).to_contain_text("Olga Owner")
        expect(page.get_by_test_id("flow-version")).to_have_count(1)
        shot(page, "logic-02-history")
        page.keyboard.press("Escape")
        expect(version).to_have_count(0)

        # -- the test call: key 1, nobody answers -> hang up -----------------------------
        page.get_by_test_id("tab-sim").click()
        page.get_by_test_id("sim-digits").fill("1")
        page.get_by_test_id("sim-run").click()
        expect(page.get_by_test_id("sim-path-node")).to_have_text(["start", IVR, RING, "hangup"])
        for node_id in ("start", IVR, RING, "hangup"):
            expect(node(page, node_id)).to_have_attribute("data-highlighted", "true")
        for edge in (f"start:next->{IVR}", f"{IVR}:1->{RING}", f"{RING}:no_answer->hangup"):
            expect(
                page.locator(f'[data-testid="rf__edge-{edge}"] path.flow-edge-highlighted')
            ).to_have_count(1)
        expect(page.locator("path.flow-edge-highlighted")).to_have_count(3)
        shot(page, "logic-03-simulated-path")
        # Answered at the ring group: the path stops there.
        page.get_by_test_id(f"sim-outcome-{RING}").click()
        page.get_by_role("option", name="answered", exact=True).click()
        page.get_by_test_id("sim-run").click()
        expect(page.get_by_test_id("sim-path-node")).to_have_text(["start", IVR, RING])
        expect(node(page, "hangup")).to_have_attribute("data-highlighted", "false")
        expect(page.locator("path.flow-edge-highlighted")).to_have_count(2)

        # -- the list shows the published flow ---------------------------------------------
        page.get_by_role("link", name="Logic").click()
        row = page.locator('[data-testid="flow-row"][data-flow="Main line"]')
        expect(row).to_contain_text("Version 1")
        expect(row.get_by_test_id("flow-row-problems")).to_have_text("0")

        # -- personal forwarding: two steps, the second moved first, saved -----------------
        page.get_by_role("link", name="Forwarding").click()
        expect(page.get_by_test_id("fwd-empty")).to_be_visible()
        page.get_by_test_id("fwd-add").click()
        page.get_by_test_id("fwd-destination").fill("+79161234567")
        page.get_by_test_id("fwd-add").click()
        page.get_by_test_id("fwd-destination").nth(1).fill("101")
        page.get_by_test_id("fwd-delay").nth(1).fill("3")
        page.get_by_test_id("fwd-unit").nth(1).click()
        page.get_by_role("option", name="rings", exact=True).click()
        page.get_by_test_id("fwd-up").nth(1).click()
        page.get_by_test_id("fwd-enabled").check()
        page.get_by_test_id("fwd-save").click()
        # There is no extension 101 in this company: the server's error sits on that field.
        expect(
            page.get_by_text("neither a phone number nor an extension of this company")
        ).to_be_visible()
        page.get_by_test_id("fwd-destination").first.fill("+74951234567")
        page.get_by_test_id("fwd-save").click()
        expect(page.get_by_text("Saved", exact=True)).to_be_visible()
        page.reload()
        expect(page.get_by_test_id("fwd-destination").first).to_have_value("+74951234567")
        expect(page.get_by_test_id("fwd-enabled")).to_be_checked()
        shot(page, "logic-04-forwarding")
        assert errors == [], errors
    finally:
        context.close()

    # -- the API holds the drawn graph as version 1 ---------------------------------------
    with httpx.Client(base_url=server.base_url, timeout=10) as api:
        r = api.post("/api/v1/auth/signin", json=OWNER)
        assert r.status_code == 200, r.text
        flow = api.get(f"/api/v1/flows/{flow_id}").json()
        assert flow["published_version"] == 1
        assert flow["problems"] == []
        r = api.get(f"/api/v1/flows/{flow_id}/versions/1")
        assert r.status_code == 200, r.text
        graph = r.json()["graph"]
        nodes = {n["id"]: n for n in graph["nodes"]}
        assert set(nodes) == {"start", IVR, RING, "hangup"}
        assert nodes[IVR]["type"] == "ivr_menu"
        assert nodes[IVR]["label"] == "Main menu"
        assert nodes[IVR]["prompt"]["text"] == "Press 1 for sales"
        assert nodes[IVR]["choices"] == [{"digit": "1", "output": "1"}]
        assert nodes[RING]["type"] == "ring_group"
        assert nodes[RING]["label"] == "Sales"
        assert nodes[RING]["ring_time"] == {"value": 20, "unit": "seconds"}
        me = api.get("/api/v1/me").json()
        employees = api.get("/api/v1/employees").json()["items"]
        owner = next(e for e in employees if e["email"] == me["user"]["email"])
        assert nodes[RING]["employee_ids"] == [owner["id"]]
        # Dropped where the palette put them: to the right of the start, menu above the group.
        assert nodes[IVR]["position"]["x"] > nodes["start"]["position"]["x"] + 100
        assert nodes[RING]["position"]["y"] > nodes[IVR]["position"]["y"] + 100
        fwd = api.get("/api/v1/me/forwarding").json()
        assert fwd["enabled"] is True
        assert fwd["steps"] == [
            {"destination": "+74951234567", "delay": {"value": 3, "unit": "rings"}},
            {"destination": "+79161234567", "delay": {"value": 15, "unit": "seconds"}},
        ]
        edges = {(e["source"], e["output"], e["target"]) for e in graph["edges"]}
        assert edges == {
            ("start", "next", IVR),
            (IVR, "1", RING),
            (RING, "no_answer", "hangup"),
        }

        # -- a real call follows the published graph --------------------------------------
        api.headers["X-CSRF-Token"] = api.cookies.get("clickphone_csrf") or ""
        r = api.put(
            f"/api/v1/flows/{flow_id}/attachments",
            json=[{"kind": "employee", "target_id": owner["id"]}],
        )
        assert r.status_code == 200, r.text
        mine = api.post(f"/api/v1/employees/{owner['id']}/devices", json={"label": "desk"})
        assert mine.status_code == 201, mine.text
        caller = api.post(
            "/api/v1/employees",
            json={"full_name": "Carl Caller", "email": "carl@logic.example", "create_device": True},
        )
        assert caller.status_code == 201, caller.text
        phones: list[PjPhone] = []
        try:
            for name, device, answer in (
                ("owner", mine.json(), 200),
                ("carl", caller.json()["device"], 0),
            ):
                phone = PjPhone(
                    registrar=server.sip_hostport,
                    user=device["sip_username"],
                    password=device["sip_password"],
                    workdir=tmp_path,
                    name=name,
                    auto_answer=answer,
                    record=name == "carl",
                    tone=1500.0 if name == "owner" else 0.0,
                )
                phones.append(phone)
                phone.send("register")
                assert phone.wait_for("reg")["code"] == 200
            owner_phone, carl = phones
            carl.send("call", uri=f"sip:{owner['extension']}@{server.sip_hostport}")
            carl.call_state("CONFIRMED", timeout=15)  # the flow answers with its menu
            time.sleep(2.0)
            assert not [e for e in owner_phone.history if e.get("event") == "incoming"]
            carl.send("dtmf", digits="1")
            owner_phone.wait_for("incoming", timeout=10)
            owner_phone.call_state("CONFIRMED")
            time.sleep(1.5)
            carl.send("hangup")
            owner_phone.call_state("DISCONNECTED")
        finally:
            for phone in phones:
                phone.close()
        assert carl.record_path is not None
        speech = heard_power(carl.record_path, 500.0) + heard_power(carl.record_path, 300.0)
        assert speech > 10 * heard_power(carl.record_path, 3500.0)
        assert heard_power(carl.record_path, 1500.0) > 20 * heard_power(carl.record_path, 3500.0)
        for _ in range(50):
            log = api.get("/api/v1/calls", params={"outcome": "answered"}).json()
            if log["items"]:
                break
            time.sleep(0.1)
        [record] = log["items"]
        detail = api.get(f"/api/v1/calls/{record['id']}").json()
        walked = [t.get("node") for t in detail["trace"] if t.get("step") == "node"]
        assert walked == ["start", IVR, RING]
