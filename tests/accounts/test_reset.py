"""Password reset by e-mail: a real SMTP exchange with an aiosmtpd server on loopback that
captures the mail; the test follows the link (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import email
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update

from apitest import Api, assert_error
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.models import PasswordResetToken, utcnow


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"

    async def next(self, timeout: float = 5) -> Message:
        await asyncio.wait_for(self.arrived.wait(), timeout)
        self.arrived.clear()
        return self.mails[-1]


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, int]]:
    box = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="mail.test"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield box, port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def settings(tmp_path: Path, inbox: tuple[Inbox, int]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="x" * 40,
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="ClickPhone <noreply@clickphone.test>",
        smtp_tls="none",
        public_url="https://pbx.example/",
    )


def token_of(mail: Message) -> str:
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    m = re.search(r"https://pbx\.example/reset-password#token=([\w-]+)", body.decode())
    assert m, body
    return m.group(1)


async def test_reset_by_mail_link(api: Api, inbox: tuple[Inbox, int], database: Database) -> None:
    box, _ = inbox
    owner = await api.signup_company("Alpha", "Owner@Example.com", "old-password-1")
    other_browser = await api.signin("owner@example.com", "old-password-1")
    anon = api.client()
    assert (await anon.get("/api/v1/auth/options")).json() == {"password_reset": True}

    r = await anon.post("/api/v1/auth/password-reset", json={"email": " OWNER@example.com "})
    assert r.status_code == 202, r.text
    mail = await box.next()
    assert mail["To"] == "owner@example.com"
    assert "noreply@clickphone.test" in mail["From"]
    token = token_of(mail)
    # Only the hash is stored.
    async with database.session() as s:
        stored = (await s.scalars(select(PasswordResetToken))).all()
    assert len(stored) == 1 and stored[0].token_hash != token and token not in stored[0].token_hash

    # A weak password is refused next to the field, and the token still works afterwards.
    r = await anon.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    assert r.status_code == 422 and "new_password" in r.json()["details"]["fields"]
    r = await anon.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "brand-new-pass-2"},
    )
    assert r.status_code == 204, r.text
    # Single use.
    r = await anon.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "another-pass-3"},
    )
    assert_error(r, 400, "auth.reset_invalid")
    # Every session is signed out; the new password works, the old one does not.
    assert_error(await owner.get("/api/v1/me"), 401, "auth.expired")
    assert_error(await other_browser.get("/api/v1/me"), 401, "auth.expired")
    r = await anon.post(
        "/api/v1/auth/signin", json={"email": "owner@example.com", "password": "old-password-1"}
    )
    assert_error(r, 401, "auth.invalid_credentials")
    await api.signin("owner@example.com", "brand-new-pass-2")


async def test_unknown_address_expiry_and_forged_tokens(
    api: Api, inbox: tuple[Inbox, int], database: Database
) -> None:
    box, _ = inbox
    await api.signup_company("Alpha", "owner@example.com")
    anon = api.client()
    # An unknown address answers exactly like a known one, and no mail goes out.
    r = await anon.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert r.status_code == 202
    assert (
        r.json()
        == (
            await anon.post("/api/v1/auth/password-reset", json={"email": "owner@example.com"})
        ).json()
    )
    mail = await box.next()
    assert mail["To"] == "owner@example.com" and len(box.mails) == 1
    token = token_of(mail)
    for forged in ("x" * 43, token[:-1] + ("A" if token[-1] != "A" else "B")):
        r = await anon.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": forged, "new_password": "brand-new-pass-2"},
        )
        assert_error(r, 400, "auth.reset_invalid")
    # Expired.
    async with database.session() as s:
        await s.execute(
            update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await s.commit()
    r = await anon.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "brand-new-pass-2"},
    )
    assert_error(r, 400, "auth.reset_invalid")


async def test_rate_limited_per_address(api: Api, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    await api.signup_company("Alpha", "owner@example.com")
    anon = api.client()
    for _ in range(3):
        r = await anon.post("/api/v1/auth/password-reset", json={"email": "owner@example.com"})
        assert r.status_code == 202
    r = await anon.post("/api/v1/auth/password-reset", json={"email": "owner@example.com"})
    body = assert_error(r, 429, "auth.reset_throttled")
    assert int(r.headers["Retry-After"]) > 0 and body["details"]["retry_after"] > 0
    # Unknown addresses are limited alike (no enumeration through 429 either).
    for _ in range(3):
        r = await anon.post("/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
        assert r.status_code == 202
    r = await anon.post("/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
    assert_error(r, 429, "auth.reset_throttled")
    assert len(box.mails) == 3


async def test_unavailable_without_smtp(api: Api, app: Any) -> None:
    app.state.services.settings.smtp_host = ""
    anon = api.client()
    assert (await anon.get("/api/v1/auth/options")).json() == {"password_reset": False}
    r = await anon.post("/api/v1/auth/password-reset", json={"email": "owner@example.com"})
    assert_error(r, 501, "auth.reset_unavailable")
    r = await anon.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": "x" * 43, "new_password": "brand-new-pass-2"},
    )
    assert_error(r, 501, "auth.reset_unavailable")
