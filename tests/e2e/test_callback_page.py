"""Click-to-call in a real browser with real pjsua2 phones on a real `clickphone serve`.

"Call back" from the call log: a colleague calls the owner, whose phone rejects it; the owner
opens the call log in chromium and clicks "Call back" on that record. The owner's phone rings
first (ClickPhone calling, "Callback <extension>") and answers, then the colleague's phone
rings and answers, and the two are bridged: /api/v1/calls/active holds one answered call and
the call log a new answered record.

The Website widget page: the owner adds a site that rings the colleague (limit: one call per
visitor number an hour), sees the script tag and the test page link, and on that test page the
widget shows the refusal while the colleague has no registered phone (503), places the call
once the phone is back (it rings), and refuses the same visitor number a second time (429).
Then a new key and deletion from the page. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from _peers import require
from interop.pjua import PjPhone, pjsua2_available

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OWNER = {"email": "owner@callback.example", "password": "Owner-Pass-123"}
VISITOR = "8 916 123-45-67"
VISITOR_E164 = "+79161234567"


def _api(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    r = c.post(
        "/api/v1/auth/signup/company",
        json={"company_name": "Callback Ltd", "full_name": "Olga Owner", **OWNER},
    )
    assert r.status_code == 201, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def _wait(fn: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _phone(server: Any, device: dict[str, Any], name: str, tmp_path: Path) -> PjPhone:
    phone = PjPhone(
        registrar=server.sip_hostport,
        user=device["sip_username"],
        password=device["sip_password"],
        workdir=tmp_path,
        name=name,
        tone=1200.0 if name == "owner" else 700.0,
    )
    phone.send("register")
    assert phone.wait_for("reg")["code"] == 200
    return phone


def test_call_back_from_the_call_log_and_the_widget_page(
    server: Any, chromium_browser: Any, shot: Any, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    from playwright.sync_api import expect

    c = _api(server.base_url)
    me = c.get("/api/v1/me").json()
    owner = next(
        e for e in c.get("/api/v1/employees").json()["items"] if e["user_id"] == me["user"]["id"]
    )
    r = c.post(f"/api/v1/employees/{owner['id']}/devices", json={"label": "desk"})
    assert r.status_code == 201, r.text
    owner_device = r.json()
    r = c.post(
        "/api/v1/employees",
        json={
            "full_name": "Carl Colleague",
            "email": "carl@callback.example",
            "password": "Empl-Pass-123",
            "create_device": True,
        },
    )
    assert r.status_code == 201, r.text
    carl = r.json()
    assert owner["extension"] and carl["extension"]

    phones: list[PjPhone] = []
    context = chromium_browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    context.add_cookies(
        [{"name": k, "value": v, "url": server.base_url} for k, v in c.cookies.items()]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        owner_phone = _phone(server, owner_device, "owner", tmp_path)
        phones.append(owner_phone)
        carl_phone = _phone(server, carl["device"], "carl", tmp_path)
        phones.append(carl_phone)

        # -- Carl calls the owner, whose phone rejects it ---------------------------------
        carl_phone.send("call", uri=f"sip:{owner['extension']}@{server.sip_hostport}")
        owner_phone.wait_for("incoming", timeout=15)
        owner_phone.send("answer", code=486)
        carl_phone.call_state("DISCONNECTED", timeout=15)
        owner_phone.call_state("DISCONNECTED", timeout=10)
        first = _wait(
            lambda: [
                x for x in c.get("/api/v1/calls").json()["items"] if x["outcome"] != "in_progress"
            ]
        )
        assert len(first) == 1, c.get("/api/v1/calls").text
        assert first[0]["outcome"] != "answered"
        assert first[0]["caller"] == carl["extension"]

        # -- the owner clicks "Call back" on that record ----------------------------------
        page.goto(f"{server.base_url}/calls")
        rows = page.get_by_test_id("call-row")
        expect(rows).to_have_count(1)
        # the details drawer offers the same: the other party of the internal call
        rows.first.get_by_test_id("call-details-open").click()
        expect(page.get_by_test_id("call-details-callback")).to_have_text(
            f"Call back {carl['extension']}"
        )
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("call-details")).to_be_hidden()
        with page.expect_response(lambda r: r.url.endswith("/api/v1/calls/callback")) as resp:
            rows.first.get_by_test_id("call-callback").click()
        assert resp.value.status == 200, resp.value.text()
        assert resp.value.json()["number"] == carl["extension"]
        expect(page.get_by_text("Your phone will ring first")).to_be_visible()
        shot(page, "callback-01-calllog")

        # the owner's phone rings first: ClickPhone calling about Carl's extension
        incoming = owner_phone.wait_for("incoming", timeout=15)
        assert carl["extension"] in str(incoming["remote"]), incoming
        time.sleep(0.5)
        assert not [e for e in carl_phone.history if e.get("event") == "incoming"], (
            "the colleague rang before the owner answered"
        )
        owner_phone.send("answer", code=200)
        owner_phone.call_state("CONFIRMED", timeout=10)
        # then Carl's phone rings and answers: the two are bridged
        carl_phone.wait_for("incoming", timeout=15)
        carl_phone.send("answer", code=200)
        carl_phone.call_state("CONFIRMED", timeout=10)

        def answered_now() -> list[dict[str, Any]]:
            items = c.get("/api/v1/calls/active").json()["items"]
            return items if [x["state"] for x in items] == ["answered"] else []

        active = _wait(answered_now, timeout=10)
        assert active, c.get("/api/v1/calls/active").text
        assert active[0]["callee"] == carl["extension"]
        time.sleep(1.0)
        carl_phone.send("hangup")
        owner_phone.call_state("DISCONNECTED", timeout=10)
        assert _wait(lambda: c.get("/api/v1/calls/active").json()["items"] == [], timeout=10)

        def both_done() -> list[dict[str, Any]]:
            items = c.get("/api/v1/calls").json()["items"]
            done = len(items) == 2 and all(x["outcome"] != "in_progress" for x in items)
            return items if done else []

        log = _wait(both_done)
        assert log, c.get("/api/v1/calls").text
        newest = log[0]
        assert newest["id"] != first[0]["id"]
        assert newest["outcome"] == "answered"
        assert newest["callee"] == carl["extension"] and newest["direction"] == "internal"
        page.reload()
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("Answered")
        shot(page, "callback-02-answered")

        # -- the Website widget page ---------------------------------------------------------
        page.get_by_role("link", name="Website widget").click()
        page.wait_for_url(re.compile(r"/widget-sites$"))
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.get_by_test_id("site-add").click()
        page.get_by_test_id("site-name").fill("Shop")
        page.get_by_test_id("site-target").click()
        page.get_by_role("option", name=re.compile("Carl Colleague")).click()
        page.get_by_test_id("site-origins").fill(server.base_url)
        page.get_by_test_id("site-per-number").fill("1")
        page.get_by_test_id("site-save").click()
        card = page.get_by_test_id("site-card")
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("site-limits")).to_have_text("1/h per number · 60/h per site")
        expect(card).to_contain_text("Carl Colleague")
        [site] = c.get("/api/v1/callback-sites").json()
        assert site["name"] == "Shop" and site["employee_id"] == carl["id"]
        assert site["department_id"] is None and site["per_number_hourly"] == 1
        assert site["allowed_origins"] == [server.base_url]
        key = site["public_key"]
        expect(card.get_by_test_id("site-snippet")).to_have_text(
            f'<script src="{server.base_url}/widget/clickphone-callback.js" '
            f'data-site-key="{key}" data-lang="en" async></script>'
        )
        link = card.get_by_test_id("site-test-link")
        expect(link).to_have_attribute("href", f"/widget/test.html?key={key}&lang=en")
        shot(page, "callback-03-widget-page")

        # no phone of Carl's registered: the widget shows the refusal (503)
        carl_phone.send("unregister")
        carl_phone.wait_for("reg", timeout=10)
        with context.expect_page() as opened:
            link.click()
        widget = opened.value
        widget.set_default_timeout(15_000)
        widget.wait_for_load_state()
        message = widget.locator('[data-clickphone="message"]')

        def ask(number: str) -> int:
            widget.get_by_label("Your phone number").fill(number)
            with widget.expect_response(lambda r: "/api/v1/public/callback/" in r.url) as res:
                widget.get_by_role("button", name="Call me", exact=True).click()
            return int(res.value.status)

        widget.get_by_role("button", name="Call me back").click()
        assert ask(VISITOR) == 503
        expect(message).to_have_text("We cannot call right now. Please try again later.")
        shot(widget, "callback-04-widget-503")

        # Carl's phone is back: the call is placed (his phone rings first; he declines) ...
        carl_phone.send("register")
        assert carl_phone.wait_for("reg", lambda e: e["code"] == 200, timeout=10)
        assert ask(VISITOR) == 200
        expect(message).to_have_text(f"Thank you! Calling you now at {VISITOR_E164}")
        ring = carl_phone.wait_for("incoming", timeout=15)
        assert VISITOR_E164.lstrip("+") in str(ring["remote"]), ring
        carl_phone.send("answer", code=486)
        carl_phone.call_state("DISCONNECTED", timeout=10)
        # ... and the same visitor number again within the hour is limited (429)
        assert ask("+7 916 123 45 67") == 429
        expect(message).to_have_text("Too many requests. Please try again later.")
        shot(widget, "callback-05-widget-429")
        widget.close()

        # -- edit (the form comes back filled in), a new key, then deletion ------------------
        card.get_by_test_id("site-menu").click()
        page.get_by_test_id("site-edit").click()
        expect(page.get_by_test_id("site-name")).to_have_value("Shop")
        expect(page.get_by_test_id("site-target")).to_have_value(re.compile("Carl Colleague"))
        expect(page.get_by_test_id("site-origins")).to_have_value(server.base_url)
        page.get_by_test_id("site-per-site").fill("10")
        page.get_by_test_id("site-save").click()
        expect(card.get_by_test_id("site-limits")).to_have_text("1/h per number · 10/h per site")
        [edited] = c.get("/api/v1/callback-sites").json()
        assert edited["per_site_hourly"] == 10 and edited["employee_id"] == carl["id"]
        assert edited["public_key"] == key
        card.get_by_test_id("site-menu").click()
        page.get_by_test_id("site-rotate").click()
        page.get_by_test_id("confirm-yes").click()
        expect(card).not_to_have_attribute("data-key", key)
        [rotated] = c.get("/api/v1/callback-sites").json()
        assert rotated["public_key"] != key
        expect(card.get_by_test_id("site-snippet")).to_contain_text(rotated["public_key"])
        r = c.post(f"/api/v1/public/callback/{key}", json={"number": VISITOR})
        assert r.status_code == 404 and r.json()["error_id"] == "callback_site_not_found"
        card.get_by_test_id("site-menu").click()
        page.get_by_test_id("site-delete").click()
        page.get_by_test_id("confirm-yes").click()
        expect(page.get_by_test_id("empty")).to_be_visible()
        assert c.get("/api/v1/callback-sites").json() == []
        assert not errors, errors
    except BaseException:
        shot(page, "callback-failure")
        raise
    finally:
        for phone in phones:
            phone.close()
        context.close()
        c.close()
