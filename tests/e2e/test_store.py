"""The store's request → approval → assignment path in a real browser: a customer signs up,
browses the store and orders a number; an operator made with ``clickphone operator create``
signs in and approves it on the office page; the customer sees the number assigned and a
notification. Then the call-back widget on its test page posts to the server."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CUSTOMER = {"email": "owner@shop.example", "password": "Owner-Pass-123"}
OPERATOR = {"email": "office@clickphone.example", "password": "Office-Pass-123"}
ADMIN = {"email": "admin@clickphone.local", "password": "Admin-Pass-12345"}


def cli(server: Any, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "clickphone.cli", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def stock_numbers(server: Any) -> None:
    """The operator's inventory: two Moscow numbers and one in St Petersburg."""
    with httpx.Client(base_url=server.base_url, timeout=10) as c:
        r = c.post("/api/v1/auth/signin", json=ADMIN)
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        for e164, city, fee in (
            ("+74951110001", "Moscow", 50000),
            ("+74951110002", "Moscow", 60000),
            ("+78121110003", "St Petersburg", 40000),
        ):
            r = c.post(
                "/api/v1/numbers",
                json={"e164": e164, "city": city, "monthly_fee": fee, "setup_fee": 10000},
            )
            assert r.status_code == 201, r.text


def sign_in(page: Any, base: str, who: dict[str, str]) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("E-mail").fill(who["email"])
    page.get_by_label("Password", exact=False).first.fill(who["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(status|employees|office)$"))


def test_store_request_approval_assignment(server: Any, chromium_browser: Any, shot: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # two shared cores: be patient with the server
    stock_numbers(server)
    assert "role=operator_admin" in cli(
        server, "operator", "create", "--email", OPERATOR["email"],
        "--password", OPERATOR["password"], "--name", "Office Olga",
    )  # fmt: skip
    errors: list[str] = []

    # -- the customer signs up and orders a Moscow number ---------------------------------
    customer_ctx = chromium_browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = customer_ctx.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base_url}/signup")
    page.get_by_test_id("lang-switch").get_by_text("EN").click()
    page.get_by_label("Company name").fill("Shop Ltd")
    page.get_by_label("Full name").fill("Sam Shopper")
    page.get_by_label("E-mail").fill(CUSTOMER["email"])
    page.get_by_label("Password", exact=False).first.fill(CUSTOMER["password"])
    page.get_by_role("button", name="Create an account").click()
    page.wait_for_url(re.compile(r"/employees$"))
    expect(page.get_by_test_id("notifications-button")).to_have_attribute("data-unread", "0")

    page.get_by_role("link", name="Store").click()
    expect(page.get_by_test_id("store-number")).to_have_count(3)
    page.get_by_test_id("store-city").fill("Moscow")
    expect(page.get_by_test_id("store-number")).to_have_count(2)
    row = page.locator('[data-testid="store-number"][data-number="+74951110001"]')
    expect(row).to_contain_text("Moscow")
    expect(row).to_contain_text("500")  # 50000 kopecks a month
    shot(page, "store-01-browse")
    row.get_by_test_id("order-number").click()
    mine = page.locator('[data-testid="my-requests"] [data-testid="request-row"]')
    expect(mine).to_have_count(1)
    expect(mine.first).to_have_attribute("data-state", "pending")
    expect(mine.first).to_have_attribute("data-number", "+74951110001")
    # Ordered numbers leave the shelf.
    expect(page.get_by_test_id("store-number")).to_have_count(1)
    shot(page, "store-02-requested")

    # -- the operator approves it in the office -------------------------------------------
    office_ctx = chromium_browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    office = office_ctx.new_page()
    office.set_default_timeout(15_000)
    office.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(office, server.base_url, OPERATOR)
    office.get_by_role("link", name="Office").click()
    queue = office.locator('[data-testid="office-requests"] [data-testid="request-row"]')
    expect(queue).to_have_count(1)
    expect(queue.first).to_contain_text("+74951110001")
    shot(office, "store-03-office-queue")
    queue.first.get_by_test_id("approve").click()
    expect(office.get_by_test_id("empty")).to_be_visible()  # nothing pending any more
    office.get_by_text("Approved", exact=True).first.click()
    expect(queue.first).to_have_attribute("data-state", "approved")

    # -- the customer sees the number and the notification -------------------------------
    page.reload()
    expect(mine.first).to_have_attribute("data-state", "approved")
    expect(page.get_by_test_id("notifications-button")).to_have_attribute("data-unread", "1")
    page.get_by_test_id("notifications-button").click()
    note = page.get_by_test_id("notification")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("Number +74951110001 is yours")
    shot(page, "store-04-notification")
    note.click()
    expect(page.get_by_test_id("notifications-button")).to_have_attribute("data-unread", "0")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="My numbers").click()
    expect(page.locator('[data-testid="my-number"][data-number="+74951110001"]')).to_be_visible()
    expect(page.get_by_test_id("effective-caller-id")).to_contain_text("+74951110001")
    shot(page, "store-05-my-numbers")

    # -- the call-back widget on its test page (no phone of the company is registered, so
    # the originator cannot place the call: 503 callback_unavailable, shown by the widget)
    with httpx.Client(base_url=server.base_url, timeout=10) as c:
        r = c.post("/api/v1/auth/signin", json=CUSTOMER)
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        employee = c.get("/api/v1/employees").json()["items"][0]["id"]
        r = c.post(
            "/api/v1/callback-sites",
            json={"name": "Shop", "employee_id": employee, "allowed_origins": [server.base_url]},
        )
        assert r.status_code == 201, r.text
        key = r.json()["public_key"]
    widget = customer_ctx.new_page()
    widget.goto(f"{server.base_url}/widget/test.html?key={key}&lang=en")
    widget.get_by_role("button", name="Call me back").click()
    widget.get_by_label("Your phone number").fill("8 916 123-45-67")
    widget.get_by_role("button", name="Call me", exact=True).click()
    expect(widget.locator('[data-clickphone="message"]')).to_have_text(
        "We cannot call right now. Please try again later."
    )
    shot(widget, "store-06-widget")
    assert errors == []
