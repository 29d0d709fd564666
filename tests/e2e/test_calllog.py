"""Call log, recordings and statistics in a real browser: two softphones make a recorded call
and a missed one through a real `clickphone serve`; the call log's filters narrow the rows,
the recording plays inline (ranged audio requests), CSV and XLSX downloads carry the calls,
and the statistics and recordings pages render. Screenshots go to test-artifacts/."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from _peers import require
from interop.pjua import PjPhone, pjsua2_available

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

OWNER = {"email": "owner@calls.example", "password": "Owner-Pass-123"}


def _api(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    r = c.post(
        "/api/v1/auth/signup/company",
        json={"company_name": "Calls Ltd", "full_name": "Olga Owner", **OWNER},
    )
    assert r.status_code == 201, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def _employee(c: httpx.Client, name: str, email: str) -> dict[str, Any]:
    r = c.post(
        "/api/v1/employees",
        json={
            "full_name": name,
            "email": email,
            "password": "Empl-Pass-123",
            "create_device": True,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _wait(fn: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_call_log_recordings_and_statistics(
    server: Any, chromium_browser: Any, shot: Any, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    from playwright.sync_api import expect

    c = _api(server.base_url)
    r = c.put("/api/v1/recordings/settings", json={"enabled": True, "retention_days": 30})
    assert r.status_code == 200, r.text
    anna = _employee(c, "Anna Smirnova", "anna@calls.example")
    boris = _employee(c, "Boris Ivanov", "boris@calls.example")
    phones: list[PjPhone] = []
    context = chromium_browser.new_context(
        locale="ru-RU", viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        for who, emp, answer, tone in (("anna", anna, 0, 440.0), ("boris", boris, 200, 880.0)):
            phone = PjPhone(
                registrar=server.sip_hostport,
                user=emp["device"]["sip_username"],
                password=emp["device"]["sip_password"],
                workdir=tmp_path,
                name=who,
                auto_answer=answer,
                tone=tone,
            )
            phones.append(phone)
            phone.send("register")
            assert phone.wait_for("reg")["code"] == 200
        # an answered, recorded call Anna -> Boris ...
        phones[0].send("call", uri=f"sip:{boris['extension']}@{server.sip_hostport}")
        phones[0].call_state("CONFIRMED", timeout=15)
        time.sleep(2.5)
        phones[0].send("hangup")
        phones[0].call_state("DISCONNECTED", timeout=10)
        # ... and one nobody answers: the owner has no phone
        phones[0].send("call", uri=f"sip:100@{server.sip_hostport}")
        phones[0].call_state("DISCONNECTED", timeout=20)

        def calls() -> list[dict[str, Any]]:
            items = c.get("/api/v1/calls").json()["items"]
            done = len(items) == 2 and all(x["outcome"] != "in_progress" for x in items)
            return items if done else []

        log = _wait(calls)
        assert log, c.get("/api/v1/calls").text
        outcomes = sorted(x["outcome"] for x in log)
        assert outcomes[0] == "answered" and outcomes[1] != "answered", outcomes
        answered = next(x for x in log if x["outcome"] == "answered")
        rec = _wait(
            lambda: [
                x
                for x in c.get(
                    "/api/v1/recordings", params={"call_record_id": answered["id"]}
                ).json()["items"]
                if x["state"] == "ready"
            ]
        )
        assert rec, "the answered call was not recorded"

        # -- the browser, signed in with the API's session cookies ---------------------------
        context.add_cookies(
            [{"name": k, "value": v, "url": server.base_url} for k, v in c.cookies.items()]
        )
        page.goto(f"{server.base_url}/calls")
        rows = page.get_by_test_id("call-row")
        expect(rows).to_have_count(2)
        # newest first, dates as dd/mm/yyyy in Russian
        expect(rows.first).to_contain_text(re.compile(r"\d\d/\d\d/\d{4} \d\d:\d\d"))
        expect(rows.nth(1)).to_contain_text("Отвечен")
        shot(page, "calllog-01-all")

        outcome = page.get_by_test_id("calls-outcome")
        outcome.get_by_text("Отвеченные").click()
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("Отвечен")
        outcome.get_by_text("Пропущенные").click()
        expect(rows).to_have_count(1)
        expect(rows).not_to_contain_text("Отвечен")
        outcome.get_by_text("Все").click()
        expect(rows).to_have_count(2)
        page.get_by_test_id("calls-direction").get_by_text("Входящие").click()
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.get_by_test_id("calls-direction").get_by_text("Внутренние").click()
        expect(rows).to_have_count(2)
        # dates: from tomorrow finds nothing, from today both calls
        tomorrow = (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")
        page.get_by_test_id("calls-from").fill(tomorrow)
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.get_by_test_id("calls-from").fill(date.today().strftime("%d/%m/%Y"))
        expect(rows).to_have_count(2)
        # the employee by extension, the client by number
        page.get_by_test_id("calls-search").fill("100")
        expect(rows).to_have_count(1)
        page.get_by_test_id("calls-search").fill("")
        page.get_by_test_id("calls-extension").fill(str(boris["extension"]))
        expect(rows).to_have_count(1)
        page.get_by_test_id("calls-extension").fill("")
        expect(rows).to_have_count(2)

        # -- inline playback: the audio is fetched with ranges and plays ---------------------
        with page.expect_response(
            lambda resp: "/audio" in resp.url and resp.status in (200, 206)
        ) as audio_resp:
            rows.nth(1).get_by_test_id("call-play").click()
        assert audio_resp.value.status in (200, 206)
        audio = page.get_by_test_id("call-audio")
        expect(audio).to_be_visible()
        page.wait_for_function(
            "() => { const a = document.querySelector('[data-testid=call-audio]');"
            " return a && a.currentTime > 0.2; }",
            timeout=10_000,
        )
        shot(page, "calllog-02-playing")
        # a seek asks for a byte range and gets 206
        status = page.evaluate(
            "async (url) => (await fetch(url, {headers: {Range: 'bytes=100-'}})).status",
            rec[0]["audio_url"],
        )
        assert status == 206
        rows.nth(1).get_by_test_id("call-play").click()

        # -- the call's trace in the drawer ---------------------------------------------------
        rows.nth(1).get_by_test_id("call-details-open").click()
        drawer = page.get_by_test_id("call-details")
        expect(drawer.get_by_test_id("call-trace")).to_contain_text("answered")
        shot(page, "calllog-03-details")
        page.keyboard.press("Escape")
        expect(drawer).to_be_hidden()

        # -- exports --------------------------------------------------------------------------
        for kind in ("csv", "xlsx"):
            page.get_by_test_id("calls-export").click()
            with page.expect_download() as dl:
                page.get_by_test_id(f"calls-export-{kind}").click()
            path = dl.value.path()
            assert dl.value.suggested_filename == f"calls.{kind}"
            if kind == "csv":
                text = Path(path).read_text(encoding="utf-8-sig")
                got = list(csv.DictReader(io.StringIO(text)))
            else:
                sheet = load_workbook(io.BytesIO(Path(path).read_bytes()), read_only=True)["Calls"]
                values = list(sheet.iter_rows(values_only=True))
                got = [dict(zip(values[0], v, strict=True)) for v in values[1:]]
            assert sorted(str(x["outcome"]) for x in got) == sorted(x["outcome"] for x in log)

        # -- statistics -------------------------------------------------------------------------
        page.get_by_role("link", name="Статистика").click()
        expect(page.get_by_test_id("stats-summary")).to_contain_text("2")
        for chart in ("chart-calls", "chart-rate", "chart-load", "chart-employees"):
            expect(page.get_by_test_id(chart).locator("canvas").first).to_be_visible()
        emp_rows = page.get_by_test_id("table-employees").locator("tbody tr")
        expect(emp_rows).to_have_count(2)
        expect(emp_rows.first).to_contain_text("Anna Smirnova")
        page.get_by_test_id("table-employees-sort-name").click()
        expect(emp_rows.first).to_contain_text("Anna Smirnova")
        page.get_by_test_id("table-employees-sort-name").click()
        expect(emp_rows.first).to_contain_text("Boris Ivanov")
        shot(page, "calllog-04-statistics")

        # -- recordings ---------------------------------------------------------------------------
        page.get_by_role("link", name="Записи разговоров").click()
        expect(page.get_by_test_id("rec-row")).to_have_count(1)
        expect(page.get_by_test_id("rec-usage-total")).to_contain_text("1")
        expect(page.get_by_test_id("rec-usage").locator("tbody tr")).to_have_count(2)
        page.get_by_test_id("rec-share").click()
        expect(page.get_by_test_id("rec-share-url")).to_have_value(
            re.compile(r"/api/v1/recordings/shared/")
        )
        page.get_by_test_id("rec-play").click()
        expect(page.get_by_test_id("rec-audio")).to_be_visible()
        shot(page, "calllog-05-recordings")
        assert errors == []
    finally:
        context.close()
        for p in phones:
            p.close()
        c.close()
