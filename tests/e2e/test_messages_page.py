"""Messages in a real browser against a real `clickphone serve`: two colleagues chat (unread
badge, read → delivered over the live socket), a group chat made by drag and drop carries a
file the other downloads, a sent message is deleted, an SMS with no SMS trunk waits queued,
and the Message history report counts and exports what was said. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.cabinet_api import EMPLOYEE_PASSWORD, add_employee, api_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

OWNER = {"email": "owner@msg.example", "password": "Owner-Pass-123"}
ADMIN = {"email": "admin@clickphone.local", "password": "Admin-Pass-12345"}
PASSWORD = EMPLOYEE_PASSWORD


def _browser_as(browser: Any, base: str, email: str, errors: list[str]) -> tuple[Any, Any]:
    api = api_client(base, {"email": email, "password": PASSWORD})
    ctx = browser.new_context(
        locale="en-GB", viewport={"width": 1360, "height": 900}, accept_downloads=True
    )
    ctx.add_init_script("localStorage.setItem('clickphone.lang', 'en')")
    ctx.add_cookies([{"name": k, "value": v, "url": base} for k, v in api.cookies.items()])
    api.close()
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page


def test_messages_chat_group_file_sms_and_history(
    server: Any, chromium_browser: Any, shot: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base = server.base_url
    owner = api_client(base, OWNER, signup_company="Msg Ltd")
    tenant_id = owner.get("/api/v1/me").json()["tenant"]["id"]
    add_employee(owner, "Anna Smirnova", "anna@msg.example")
    boris = add_employee(owner, "Boris Ivanov", "boris@msg.example")
    # a company number to send SMS from, but no trunk with an SMSC
    with httpx.Client(base_url=base, timeout=10) as op:
        r = op.post("/api/v1/auth/signin", json=ADMIN)
        assert r.status_code == 200, r.text
        op.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        r = op.post("/api/v1/numbers", json={"e164": "+74951230000", "tenant_id": tenant_id})
        assert r.status_code == 201, r.text

    errors: list[str] = []
    ctx_a, anna = _browser_as(chromium_browser, base, "anna@msg.example", errors)
    ctx_b, bob = _browser_as(chromium_browser, base, "boris@msg.example", errors)
    try:
        # -- Anna writes to Boris -------------------------------------------------------------
        anna.goto(f"{base}/messages")
        expect(anna.get_by_test_id("messages-button")).to_have_attribute("data-unread", "0")
        anna.get_by_test_id("new-conversation").click()
        anna.get_by_test_id("new-direct").click()
        anna.get_by_test_id("new-direct-user").click()
        anna.get_by_role("option", name=re.compile("Boris Ivanov")).click()
        anna.get_by_test_id("new-direct-start").click()
        expect(anna.get_by_test_id("thread-title")).to_have_text("Boris Ivanov")
        anna.get_by_test_id("composer-text").fill("Hello Boris, the invoice is ready")
        anna.get_by_test_id("composer-text").press("Enter")
        mine = anna.get_by_test_id("message")
        expect(mine).to_have_count(1)
        expect(mine.first).to_have_attribute("data-status", "sent")

        # -- Boris sees the unread badge, opens the chat ----------------------------------
        bob.goto(f"{base}/status")
        button = bob.get_by_test_id("messages-button")
        expect(button).to_have_attribute("data-unread", "1")
        shot(bob, "messages-01-unread-badge")
        button.click()
        bob.wait_for_url(re.compile(r"/messages$"))
        row = bob.get_by_test_id("conversation").first
        expect(row).to_have_attribute("data-unread", "1")
        row.click()
        expect(bob.get_by_test_id("message-body")).to_have_text("Hello Boris, the invoice is ready")
        expect(button).to_have_attribute("data-unread", "0")
        # ... and Anna's message turns "delivered" without a reload (the live socket)
        expect(mine.first).to_have_attribute("data-status", "delivered")
        expect(mine.first.get_by_test_id("message-status")).to_have_attribute(
            "data-status", "delivered"
        )
        shot(anna, "messages-02-delivered")

        # -- a group made by drag and drop, with a file -----------------------------------
        anna.get_by_test_id("new-conversation").click()
        anna.get_by_test_id("new-group").click()
        anna.get_by_test_id("new-group-title").fill("Invoices")
        employee = anna.locator(
            f'[data-testid="new-group-employee"][data-user-id="{boris["user_id"]}"]'
        )
        employee.drag_to(anna.get_by_test_id("new-group-members"))
        expect(anna.get_by_test_id("new-group-member")).to_have_count(1)
        shot(anna, "messages-03-new-group")
        anna.get_by_test_id("new-group-create").click()
        expect(anna.get_by_test_id("thread")).to_have_attribute("data-kind", "group")
        expect(anna.get_by_test_id("group-member")).to_have_count(2)
        report = tmp_path / "invoice-42.txt"
        report.write_text("invoice 42: 1000 RUB\n")
        anna.get_by_test_id("composer-file-input").set_input_files(str(report))
        expect(anna.get_by_test_id("composer-file")).to_contain_text("invoice-42.txt")
        anna.get_by_test_id("composer-text").fill("the invoice")
        anna.get_by_test_id("composer-send").click()
        expect(anna.get_by_test_id("message-file")).to_contain_text("invoice-42.txt")

        group_row = bob.locator('[data-testid="conversation"][data-kind="group"]')
        expect(group_row).to_have_attribute("data-unread", "1")
        group_row.click()
        link = bob.get_by_test_id("message-file")
        expect(link).to_contain_text("invoice-42.txt")
        expect(bob.get_by_test_id("message-sender")).to_have_text("Anna Smirnova")
        with bob.expect_download() as dl:
            link.click()
        assert dl.value.suggested_filename == "invoice-42.txt"
        assert Path(dl.value.path()).read_text() == "invoice 42: 1000 RUB\n"
        shot(bob, "messages-04-group-file")

        # -- Anna deletes a message she sent -----------------------------------------------
        anna.get_by_test_id("composer-text").fill("wrong chat, sorry")
        anna.get_by_test_id("composer-text").press("Enter")
        oops = anna.get_by_test_id("message").filter(has_text="wrong chat, sorry")
        expect(oops).to_have_count(1)
        oops.get_by_test_id("message-menu").click()
        anna.get_by_test_id("message-delete").click()
        anna.get_by_test_id("confirm-yes").click()
        gone = anna.locator('[data-testid="message"][data-deleted="yes"]')
        expect(gone).to_have_count(1)
        expect(gone).to_contain_text("Message deleted")
        expect(bob.locator('[data-testid="message"][data-deleted="yes"]')).to_have_count(1)

        # -- an SMS with no SMS trunk waits in the queue (no crash) --------------------------
        anna.get_by_test_id("new-conversation").click()
        anna.get_by_test_id("new-sms").click()
        anna.get_by_test_id("new-sms-to").fill("+7 999 123-45-67")
        expect(anna.get_by_test_id("new-sms-line")).to_have_value("+74951230000")
        anna.get_by_test_id("new-sms-text").fill("Your order is ready")
        expect(anna.get_by_test_id("sms-counter")).to_have_attribute("data-parts", "1")
        anna.get_by_test_id("new-sms-send").click()
        expect(anna.get_by_test_id("thread")).to_have_attribute("data-kind", "sms")
        sms = anna.get_by_test_id("message")
        expect(sms).to_have_count(1)
        expect(sms.first).to_have_attribute("data-status", re.compile("^(queued|sending)$"))
        shot(anna, "messages-05-sms-queued")

        # -- the Message history report ---------------------------------------------------------
        anna.get_by_role("link", name="Message history").click()
        anna.wait_for_url(re.compile(r"/reports/messages$"))
        expect(anna.get_by_test_id("total-messages-value")).to_have_text("4")
        expect(anna.get_by_test_id("total-chat-value")).to_have_text("3")
        expect(anna.get_by_test_id("total-sms-out-value")).to_have_text("1")
        expect(anna.get_by_test_id("total-pending-value")).to_have_text("1")
        expect(anna.get_by_test_id("history-chart")).to_be_visible()
        anna.get_by_test_id("history-channel").get_by_text("Chat").click()
        expect(anna.get_by_test_id("history-total")).to_have_attribute("data-total", "3")
        expect(anna.get_by_test_id("history-table").locator("tbody tr")).to_have_count(3)
        anna.get_by_test_id("history-status").click()
        anna.get_by_role("option", name="Pending").click()
        anna.get_by_test_id("history-channel").get_by_text("All").click()
        expect(anna.get_by_test_id("history-total")).to_have_attribute("data-total", "1")
        expect(anna.get_by_test_id("history-body")).to_have_text("Your order is ready")
        anna.get_by_test_id("history-status").click()
        anna.get_by_role("option", name="Any status").click()
        anna.get_by_test_id("history-channel").get_by_text("Chat").click()
        expect(anna.get_by_test_id("history-total")).to_have_attribute("data-total", "3")
        # the deleted message is still in the history, marked, without its text
        expect(anna.get_by_test_id("history-deleted")).to_have_count(1)
        shot(anna, "messages-06-history")

        anna.get_by_test_id("history-export").click()
        with anna.expect_download() as dl:
            anna.get_by_test_id("history-export-csv").click()
        text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 3, text
        assert {r["channel"] for r in rows} == {"chat"}
        assert any("invoice is ready" in r["body"] for r in rows), text

        # -- mass mailings: a chat mailing now, an SMS mailing later (then cancelled) ----------
        anna.get_by_role("link", name="Messages", exact=True).click()
        anna.get_by_test_id("open-mailings").click()
        anna.wait_for_url(re.compile(r"/messages/mailings$"))
        anna.get_by_test_id("mailing-channel").get_by_text("Chat").click()
        anna.get_by_test_id("mailing-all").check()
        anna.get_by_test_id("mailing-text").fill("Team meeting at 5")
        anna.get_by_test_id("mailing-send").click()
        mailings = anna.get_by_test_id("mailing-row")
        expect(mailings).to_have_count(1)
        expect(mailings.first.get_by_test_id("mailing-state")).to_have_attribute(
            "data-state", "done"
        )
        anna.get_by_test_id("mailing-channel").get_by_text("SMS").click()
        anna.get_by_test_id("mailing-numbers").fill("+79990000001\n+79990000002\n+79990000001")
        expect(anna.get_by_test_id("mailing-recipients")).to_contain_text("2")
        anna.get_by_test_id("mailing-text").fill("Sale tomorrow")
        anna.get_by_test_id("mailing-when").get_by_text("Later").click()
        anna.get_by_test_id("mailing-send").click()
        expect(mailings).to_have_count(2)
        expect(mailings.first.get_by_test_id("mailing-state")).to_have_attribute(
            "data-state", "scheduled"
        )
        mailings.first.click()
        details = anna.get_by_test_id("mailing-details")
        expect(details.get_by_test_id("mailing-recipient")).to_have_count(2)
        shot(anna, "messages-07-mailing")
        details.get_by_test_id("mailing-cancel").click()
        anna.get_by_test_id("confirm-yes").click()
        expect(details.get_by_test_id("mailing-state")).to_have_attribute("data-state", "cancelled")
        expect(bob.get_by_test_id("messages-button")).to_have_attribute("data-unread", "1")
        assert errors == [], errors
    finally:
        ctx_a.close()
        ctx_b.close()
        owner.close()
