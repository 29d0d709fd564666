"""Password reset in the browser: the sign-in page offers the link (SMTP is configured), the
mail reaches an aiosmtpd server on loopback, and the link from the mail sets a new password."""

from __future__ import annotations

import email
import re
import socket
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OWNER = {"email": "owner@reset.example", "password": "Owner-Pass-123"}
NEW_PASSWORD = "Brand-New-Pass-456"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 15) -> Message:
        deadline = time.monotonic() + timeout
        while len(self.mails) < count:
            assert time.monotonic() < deadline, "no mail arrived"
            time.sleep(0.1)
        return self.mails[count - 1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def server_env(inbox: tuple[Inbox, int]) -> dict[str, str]:
    return {
        "CLICKPHONE_SMTP_HOST": "127.0.0.1",
        "CLICKPHONE_SMTP_PORT": str(inbox[1]),
        "CLICKPHONE_SMTP_FROM": "noreply@clickphone.test",
        "CLICKPHONE_SMTP_TLS": "none",
    }


def test_password_reset_by_mail(
    server: Any, inbox: tuple[Inbox, int], chromium_browser: Any, shot: Any
) -> None:
    from playwright.sync_api import expect

    box, _ = inbox
    r = httpx.post(
        f"{server.base_url}/api/v1/auth/signup/company",
        json={"company_name": "Reset Ltd", **OWNER},
    )
    assert r.status_code == 201, r.text
    context = chromium_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.base_url}/signin")
        page.get_by_test_id("forgot-link").click()
        page.wait_for_url(re.compile(r"/forgot-password$"))
        page.get_by_test_id("reset-email").fill(OWNER["email"])
        shot(page, "20-reset-request")
        page.get_by_test_id("reset-send").click()
        expect(page.get_by_test_id("reset-sent")).to_contain_text(OWNER["email"])

        mail = box.wait()
        assert mail["To"] == OWNER["email"]
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        link = re.search(r"http://\S+/reset-password#token=[\w-]+", body.decode())
        assert link, body
        assert link.group(0).startswith(server.base_url)

        page.goto(link.group(0))
        page.get_by_test_id("reset-password").fill(NEW_PASSWORD)
        page.get_by_test_id("reset-repeat").fill(NEW_PASSWORD + "x")
        page.get_by_test_id("reset-save").click()
        expect(page.get_by_text("The passwords differ")).to_be_visible()
        page.get_by_test_id("reset-repeat").fill(NEW_PASSWORD)
        shot(page, "21-reset-new-password")
        page.get_by_test_id("reset-save").click()
        page.wait_for_url(re.compile(r"/signin$"))
        expect(page.get_by_test_id("form-notice")).to_be_visible()
        page.get_by_label("E-mail").fill(OWNER["email"])
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/status$"))

        # The link works once.
        page.goto(link.group(0))
        page.get_by_test_id("reset-password").fill("Third-Pass-789")
        page.get_by_test_id("reset-repeat").fill("Third-Pass-789")
        page.get_by_test_id("reset-save").click()
        expect(page.get_by_test_id("form-error")).to_contain_text("invalid, used or expired")
        shot(page, "22-reset-used-link")
        assert errors == [], errors
    finally:
        context.close()
