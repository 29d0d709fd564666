"""The issue's acceptance path in a real browser: a newcomer signs up a company, makes two
departments and three employees, takes softphone credentials from the QR dialog, and sees
the phones come online (and a call between them) on the Status page; then contacts, the
personal cabinet and the language switch. Each page is saved to test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from _peers import require
from interop.pjua import PjPhone, pjsua2_available

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

OWNER = {"email": "owner@acme.example", "password": "Owner-Pass-123"}


def pick(page: Any, scope: Any, label: str, option: str) -> None:
    """Chooses an option of a Mantine Select (inside ``scope``) by its label."""
    scope.get_by_role("textbox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def add_employee(page: Any, name: str, email: str, position: str, dept: str) -> dict[str, str]:
    page.get_by_test_id("employee-add").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=False).first.fill(name)
    dialog.get_by_label("E-mail").fill(email)
    dialog.get_by_label("Position").fill(position)
    pick(page, dialog, "Department", dept)
    dialog.get_by_test_id("employee-save").click()
    creds = page.get_by_role("dialog").filter(has=page.get_by_test_id("sip-qr"))
    creds.wait_for()
    out = {
        "username": creds.get_by_test_id("sip-username").inner_text(),
        "password": creds.get_by_test_id("sip-password").inner_text(),
        "server": creds.get_by_test_id("sip-server").inner_text(),
        "title": creds.locator(".mantine-Modal-title").inner_text(),
    }
    return out


def close_credentials(page: Any) -> None:
    page.get_by_test_id("credentials-close").click()
    page.get_by_test_id("sip-qr").wait_for(state="detached")


def test_company_cabinet_main_path(
    server: Any, chromium_browser: Any, shot: Any, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    from playwright.sync_api import expect

    context = chromium_browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    phones: list[PjPhone] = []
    try:
        # -- sign-up: Russian by default, switch to English ------------------------------
        page.goto(f"{server.base_url}/signup")
        expect(page.get_by_role("heading", name="Регистрация")).to_be_visible()
        shot(page, "01-signup-ru")
        page.get_by_test_id("lang-switch").get_by_text("EN").click()
        expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
        # The API's field errors appear next to the fields.
        page.get_by_label("Company name").fill("Acme Ltd")
        page.get_by_label("E-mail").fill("not-an-email")
        page.get_by_label("Password", exact=False).first.fill("short")
        page.get_by_role("button", name="Create an account").click()
        expect(page.get_by_text("value is not a valid email address", exact=False)).to_be_visible()
        expect(page.get_by_text("at least 8 characters", exact=False).last).to_be_visible()
        shot(page, "02-signup-errors")
        page.get_by_label("Full name").fill("Olga Owner")
        page.get_by_label("Position").fill("Director")
        page.get_by_label("E-mail").fill(OWNER["email"])
        page.get_by_label("Password", exact=False).first.fill(OWNER["password"])
        page.get_by_role("button", name="Create an account").click()
        page.wait_for_url(re.compile(r"/employees$"))
        expect(page.get_by_test_id("customer-number")).to_be_visible()
        expect(page.get_by_test_id("header-user")).to_contain_text("Olga Owner")
        expect(page.get_by_test_id("header-user")).to_contain_text("Director")

        # -- departments -------------------------------------------------------------------
        page.get_by_role("link", name="Departments").click()
        expect(page.get_by_test_id("empty")).to_be_visible()
        for name in ("Sales", "Support"):
            page.get_by_test_id("dept-add").click()
            page.get_by_test_id("dept-name").fill(name)
            page.get_by_test_id("dept-save").click()
            expect(page.locator(f'[data-testid="dept-column"][data-dept="{name}"]')).to_be_visible()

        # -- employees with softphone credentials -------------------------------------------
        page.get_by_role("link", name="Employees").click()
        # The owner is the first employee (extension 100).
        expect(page.get_by_test_id("employee-row")).to_have_count(1)
        expect(page.get_by_test_id("employee-row")).to_contain_text("Olga Owner")
        shot(page, "03-employees-owner")
        anna = add_employee(page, "Anna Smirnova", "anna@acme.example", "Sales manager", "Sales")
        shot(page, "04-credentials-qr")
        close_credentials(page)
        boris = add_employee(page, "Boris Ivanov", "boris@acme.example", "Engineer", "Support")
        close_credentials(page)
        add_employee(page, "Vera Kuznetsova", "vera@acme.example", "Sales lead", "Sales")
        close_credentials(page)
        expect(page.get_by_test_id("employee-row")).to_have_count(4)
        assert anna["server"] == server.sip_hostport

        # Phones register with the credentials from the dialog.
        for who, creds, answer in (("anna", anna, 0), ("boris", boris, 200)):
            phone = PjPhone(
                registrar=server.sip_hostport,
                user=creds["username"],
                password=creds["password"],
                workdir=tmp_path,
                name=who,
                auto_answer=answer,
            )
            phones.append(phone)
            phone.send("register")
            assert phone.wait_for("reg")["code"] == 200

        # Live registration state in the employee's devices.
        page.get_by_test_id("employee-search").fill("Anna")
        expect(page.get_by_test_id("employee-row")).to_have_count(1)
        page.get_by_test_id("employee-devices").click()
        drawer = page.get_by_role("dialog")
        expect(drawer.get_by_test_id("device-online")).to_be_visible(timeout=20_000)
        expect(drawer.get_by_test_id("device-ua")).to_contain_text("pjsua2")
        shot(page, "05-devices-online")
        page.keyboard.press("Escape")
        page.get_by_test_id("employee-search").fill("")
        shot(page, "06-employees")

        # -- status: phones online, then a call in progress ----------------------------------
        page.get_by_role("link", name="Status").click()
        expect(page.get_by_test_id("online-devices")).to_have_text("2 / 3", timeout=20_000)
        expect(page.get_by_test_id("active-users")).to_have_text("2 / 4")
        expect(page.get_by_test_id("online-list")).to_contain_text("Anna Smirnova")
        # Live over the WebSocket: with it up the page stops polling calls, so the call
        # below can only appear (and go) through pushed events, without a reload.
        expect(page.get_by_test_id("updated")).to_have_attribute("data-live", "yes")
        expect(page.get_by_test_id("calls-today")).to_have_text("0")
        expect(page.get_by_test_id("talk-today")).to_have_text("0:00")
        boris_ext = boris["title"].split("·")[-1].strip()
        phones[0].send("call", uri=f"sip:{boris_ext}@{server.sip_hostport}")
        phones[0].call_state("CONFIRMED", timeout=15)
        expect(page.get_by_test_id("active-calls")).to_have_text("1", timeout=5_000)
        shot(page, "07-status-call")
        phones[0].send("hangup")
        expect(page.get_by_test_id("active-calls")).to_have_text("0", timeout=5_000)
        # Today's figures follow the call record: one answered call, Sales and Support.
        expect(page.get_by_test_id("calls-today")).to_have_text("1", timeout=10_000)
        expect(page.get_by_test_id("calls-today-split")).to_contain_text("1 answered")
        rows = page.get_by_test_id("dept-calls-row")
        expect(rows).to_have_count(2)
        expect(page.get_by_test_id("dept-calls")).to_contain_text("Sales")
        expect(page.get_by_test_id("dept-calls")).to_contain_text("Support")
        shot(page, "07b-status-today")

        # -- departments: drag Boris from Support to Sales -----------------------------------
        page.get_by_role("link", name="Departments").click()
        sales = page.locator('[data-testid="dept-column"][data-dept="Sales"]')
        support = page.locator('[data-testid="dept-column"][data-dept="Support"]')
        expect(support.get_by_test_id("dept-employee")).to_have_count(1)
        support.locator('[data-employee="Boris Ivanov"]').drag_to(sales)
        expect(sales.get_by_test_id("dept-employee")).to_have_count(3)
        expect(support.get_by_test_id("dept-employee")).to_have_count(0)
        shot(page, "08-departments")
        # It stuck on the server, too.
        page.reload()
        expect(sales.locator('[data-employee="Boris Ivanov"]')).to_be_visible()
        # Rename a department.
        support.get_by_test_id("dept-menu").click()
        page.get_by_role("menuitem", name="Rename").click()
        page.get_by_test_id("dept-name").fill("Customer care")
        page.get_by_test_id("dept-save").click()
        expect(page.locator('[data-dept="Customer care"]')).to_be_visible()

        # -- contacts: add with two numbers, find by number ----------------------------------
        page.get_by_role("link", name="Contacts").click()
        expect(page.get_by_test_id("empty")).to_be_visible()
        page.get_by_test_id("contact-add").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_test_id("contact-name").fill("Ivan Petrov")
        dialog.get_by_test_id("contact-number").first.fill("+7 999 123-45-67")
        dialog.get_by_role("button", name="Add number").click()
        dialog.get_by_test_id("contact-number").nth(1).fill("+7 495 765-43-21")
        dialog.get_by_label("Group").fill("Clients")
        dialog.get_by_test_id("contact-birthday").fill("1985-06-15")
        dialog.get_by_test_id("contact-save").click()
        expect(page.get_by_test_id("contact-row")).to_have_count(1)
        saved = page.request.get(f"{server.base_url}/api/v1/contacts").json()["items"]
        assert [c["birthday"] for c in saved] == ["1985-06-15"]
        page.get_by_test_id("contact-add").click()
        page.get_by_role("dialog").get_by_test_id("contact-name").fill("Maria Orlova")
        page.get_by_role("dialog").get_by_test_id("contact-number").first.fill("+7 812 555-00-11")
        page.get_by_role("dialog").get_by_test_id("contact-save").click()
        expect(page.get_by_test_id("contact-row")).to_have_count(2)
        page.get_by_test_id("contact-search").fill("765")
        expect(page.get_by_test_id("contact-row")).to_have_count(1)
        expect(page.get_by_test_id("contact-row")).to_contain_text("Ivan Petrov")
        page.get_by_test_id("contact-search").fill("")
        expect(page.get_by_test_id("contact-row")).to_have_count(2)
        shot(page, "09-contacts")
        # Share a personal contact with the Sales department.
        maria = page.get_by_test_id("contact-row").filter(has_text="Maria Orlova")
        maria.get_by_test_id("contact-share").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_test_id("share-none")).to_be_visible()
        dialog.get_by_role("textbox", name="Share with").click()
        page.get_by_role("option", name="Sales", exact=True).click()
        dialog.get_by_test_id("share-add").click()
        expect(dialog.get_by_test_id("share-row")).to_have_count(1)
        expect(dialog.get_by_test_id("share-row")).to_contain_text("Sales")
        shot(page, "09b-contact-share")
        page.keyboard.press("Escape")

        # -- personal cabinet -----------------------------------------------------------------
        page.get_by_role("link", name="My cabinet").click()
        expect(page.get_by_test_id("me-name")).to_have_value("Olga Owner")
        page.get_by_test_id("me-position").fill("CEO")
        page.get_by_test_id("me-save").click()
        expect(page.get_by_test_id("header-user")).to_contain_text("CEO")
        shot(page, "10-profile")

        # -- language back to Russian; dates and labels follow -------------------------------
        page.get_by_role("banner").get_by_test_id("lang-switch").get_by_text("RU").click()
        expect(page.get_by_role("link", name="Контакты")).to_be_visible()
        expect(page.get_by_role("heading", name="Личный кабинет")).to_be_visible()

        # -- a phone screen ---------------------------------------------------------------------
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{server.base_url}/status")
        expect(page.get_by_test_id("online-devices")).to_have_text("2 / 3")
        shot(page, "11-status-phone")
        page.get_by_role("button", name="menu").click()
        expect(page.get_by_role("link", name="Сотрудники")).to_be_visible()
        shot(page, "12-menu-phone")

        # -- sign out and back in ------------------------------------------------------------------
        page.get_by_role("link", name="Состояние").click()
        page.get_by_test_id("signout").click()
        page.wait_for_url(re.compile(r"/signin$"))
        # No SMTP on this server: no password-reset link.
        expect(page.get_by_role("button", name="Войти")).to_be_visible()
        expect(page.get_by_test_id("forgot-link")).to_have_count(0)
        page.get_by_label("Эл. почта").fill(OWNER["email"])
        page.get_by_label("Пароль").fill("wrong-password")
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_test_id("form-error")).to_contain_text("wrong e-mail or password")
        page.get_by_label("Пароль").fill(OWNER["password"])
        page.get_by_role("button", name="Войти").click()
        page.wait_for_url(re.compile(r"/status$"))
        assert errors == [], errors
    finally:
        for p in phones:
            p.close()
        context.close()
