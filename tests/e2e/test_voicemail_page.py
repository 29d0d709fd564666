"""The voicemail inbox in a real browser against a real `clickphone serve`: voicemails written
into the server's database (with their live event and notification, as a flow's voicemail
node writes them) appear without a reload — the nav badge, the list, the bell — newest first;
playing one loads its WAV (range requests) and marks it listened; one is deleted with its
file; a colleague does not see an employee's voicemail, the company's owner does and marks
all read. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import math
import re
import struct
import time
import uuid
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from e2e.cabinet_api import EMPLOYEE_PASSWORD, add_employee, api_client

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

OWNER = {"email": "owner@vm.example", "password": "Owner-Pass-123"}
PASSWORD = EMPLOYEE_PASSWORD


def _browser_as(browser: Any, base: str, who: dict[str, str], errors: list[str]) -> tuple[Any, Any]:
    api = api_client(base, who)
    ctx = browser.new_context(locale="en-GB", viewport={"width": 1360, "height": 900})
    ctx.add_init_script("localStorage.setItem('clickphone.lang', 'en')")
    ctx.add_cookies([{"name": k, "value": v, "url": base} for k, v in api.cookies.items()])
    api.close()
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page


def _wav(path: Path, seconds: float) -> None:
    """A valid 8 kHz 16-bit mono WAV: a 440 Hz tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def _store(
    data_dir: Path,
    tenant_id: int,
    owner_employee_id: int | None,
    *,
    caller: str,
    caller_name: str,
    callee: str,
    seconds: float,
) -> tuple[str, Path]:
    """A voicemail row (with its ``voicemail.created`` event and notifications) in the
    server's SQLite database, and its WAV under ``<data_dir>/voicemail/<tenant>/``."""
    from clickphone.db import Database
    from clickphone.voicemail.service import store_voicemail

    call_id = uuid.uuid4().hex
    rel = f"voicemail/{tenant_id}/{call_id}.wav"
    _wav(data_dir / rel, seconds)

    async def go() -> None:
        db = Database(f"sqlite+aiosqlite:///{(data_dir / 'clickphone.db').resolve()}")
        try:
            await store_voicemail(
                db,
                call_id=call_id,
                tenant_id=tenant_id,
                owner_employee_id=owner_employee_id,
                caller=caller,
                caller_name=caller_name,
                callee=callee,
                path=rel,
                seconds=seconds,
            )
        finally:
            await db.dispose()

    # Playwright's sync API runs its own event loop in this thread
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()
    return call_id, data_dir / rel


def test_voicemail_inbox(server: Any, chromium_browser: Any, shot: Any) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    base = server.base_url
    owner = api_client(base, OWNER, signup_company="Voice Ltd")
    tenant_id = owner.get("/api/v1/me").json()["tenant"]["id"]
    anna = add_employee(owner, "Anna Smirnova", "anna@vm.example")
    add_employee(owner, "Boris Ivanov", "boris@vm.example")

    errors: list[str] = []
    audio_status: list[int] = []
    ctx_a, page = _browser_as(
        chromium_browser, base, {"email": "anna@vm.example", "password": PASSWORD}, errors
    )
    page.on(
        "response",
        lambda r: audio_status.append(r.status) if r.url.endswith("/audio") else None,
    )
    ctx_b, bob = _browser_as(
        chromium_browser, base, {"email": "boris@vm.example", "password": PASSWORD}, errors
    )
    ctx_o, boss = _browser_as(chromium_browser, base, OWNER, errors)
    try:
        # -- Anna's empty inbox; the nav entry, no badge ---------------------------------------
        page.goto(f"{base}/status")
        page.get_by_role("link", name="Voicemail").click()
        page.wait_for_url(re.compile(r"/voicemail$"))
        expect(page.get_by_text("No voicemails yet.")).to_be_visible()
        expect(page.get_by_test_id("voicemail-badge")).to_have_count(0)

        # -- two voicemails left for Anna arrive live (no reload) -----------------------------
        older, older_wav = _store(
            server.data_dir,
            tenant_id,
            anna["id"],
            caller="+74951234567",
            caller_name="Ivan Petrov",
            callee="+74950001122",
            seconds=2.0,
        )
        badge = page.get_by_test_id("voicemail-badge")
        expect(badge).to_have_text("1")
        time.sleep(0.05)
        newer, newer_wav = _store(
            server.data_dir,
            tenant_id,
            anna["id"],
            caller="+79161112233",
            caller_name="",
            callee="+74950001122",
            seconds=3.0,
        )
        expect(badge).to_have_text("2")
        rows = page.get_by_test_id("vm-row")
        expect(rows).to_have_count(2)
        # newest first, both unread (bold), name + number, the number dialled, the duration
        expect(rows.nth(0)).to_have_attribute("data-id", newer)
        expect(rows.nth(1)).to_have_attribute("data-id", older)
        expect(rows.nth(0)).to_have_attribute("data-unread", "yes")
        expect(rows.nth(1)).to_have_attribute("data-unread", "yes")
        expect(rows.nth(1).get_by_test_id("vm-caller")).to_have_text("Ivan Petrov +74951234567")
        expect(rows.nth(0).get_by_test_id("vm-caller")).to_have_text("+79161112233")
        expect(rows.nth(1).get_by_test_id("vm-callee")).to_have_text("+74950001122")
        expect(rows.nth(1).get_by_test_id("vm-duration")).to_have_text("0:02")
        expect(rows.nth(0).get_by_test_id("vm-duration")).to_have_text("0:03")
        assert (
            page.get_by_test_id("vm-caller").nth(0).evaluate("e => getComputedStyle(e).fontWeight")
            == "700"
        )
        expect(rows.nth(0).get_by_test_id("vm-callback")).to_be_visible()
        # the bell: the notification in the user's words, leading to the inbox
        expect(page.get_by_test_id("notifications-button")).to_have_attribute("data-unread", "2")
        page.get_by_test_id("notifications-button").click()
        notes = page.locator('[data-testid="notification"][data-kind="voicemail.received"]')
        expect(notes).to_have_count(2)
        expect(notes.nth(0)).to_contain_text("Voicemail from +79161112233 (3 s)")
        expect(notes.nth(1)).to_contain_text("Voicemail from Ivan Petrov (2 s)")
        shot(page, "voicemail-01-notifications")
        page.keyboard.press("Escape")
        shot(page, "voicemail-02-inbox")

        # -- Boris (a colleague) sees none of Anna's; the owner sees them ----------------------
        bob.goto(f"{base}/voicemail")
        expect(bob.get_by_text("No voicemails yet.")).to_be_visible()
        expect(bob.get_by_test_id("voicemail-badge")).to_have_count(0)
        r = bob.request.get(f"{base}/api/v1/voicemails/{older}/audio")
        assert r.status == 404, r.text()
        boss.goto(f"{base}/voicemail")
        expect(boss.get_by_test_id("vm-row")).to_have_count(2)
        expect(boss.get_by_test_id("voicemail-badge")).to_have_text("2")

        # -- Anna plays the older one: the WAV loads (200/206) and it is marked listened -------
        audio = rows.nth(1).get_by_test_id("vm-audio")
        box = audio.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + box["height"] / 2)  # the play button
        page.wait_for_function(
            """el => el.readyState >= 1 && Math.abs(el.duration - 2) < 0.1""",
            arg=audio.element_handle(),
        )
        assert audio_status and set(audio_status) <= {200, 206}, audio_status
        expect(rows.nth(1)).to_have_attribute("data-unread", "no")
        expect(rows.nth(0)).to_have_attribute("data-unread", "yes")
        expect(badge).to_have_text("1")
        shot(page, "voicemail-03-played")

        # -- filters: unread only, then search by caller ----------------------------------------
        page.get_by_test_id("vm-filter").get_by_text("Unread").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", newer)
        page.get_by_test_id("vm-filter").get_by_text("All").click()
        page.get_by_test_id("vm-search").fill("Ivan")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", older)
        page.get_by_test_id("vm-search").fill("nobody-like-this")
        expect(page.get_by_text("No voicemails match the search.")).to_be_visible()
        page.get_by_test_id("vm-search").fill("")
        expect(rows).to_have_count(2)

        # -- Anna deletes the newer one (asked first); its audio file goes -------------------
        rows.nth(0).get_by_test_id("vm-delete").click()
        expect(page.get_by_role("dialog")).to_contain_text("+79161112233")
        page.get_by_test_id("confirm-yes").click()
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-id", older)
        expect(badge).to_have_count(0)
        assert not newer_wav.exists()
        assert older_wav.exists()
        r = page.request.get(f"{base}/api/v1/voicemails/{newer}/audio")
        assert r.status == 404

        # -- a voicemail on the company's number: the owner alone hears it; mark all read ---
        company, _ = _store(
            server.data_dir,
            tenant_id,
            None,
            caller="+78120000001",
            caller_name="Shop SPb",
            callee="+74950001122",
            seconds=1.0,
        )
        boss_badge = boss.get_by_test_id("voicemail-badge")
        expect(boss_badge).to_have_text("1")
        boss_rows = boss.get_by_test_id("vm-row")
        expect(boss_rows).to_have_count(2)
        expect(boss_rows.first).to_have_attribute("data-id", company)
        expect(boss_rows.first).to_have_attribute("data-unread", "yes")
        shot(boss, "voicemail-04-owner")
        boss.get_by_test_id("vm-mark-all").click()
        expect(boss_badge).to_have_count(0)
        expect(boss_rows.first).to_have_attribute("data-unread", "no")
        page.reload()
        expect(page.get_by_test_id("vm-row")).to_have_count(1)  # not Anna's to hear
        bob.reload()
        expect(bob.get_by_text("No voicemails yet.")).to_be_visible()

        # -- in Russian ---------------------------------------------------------------------
        boss.get_by_test_id("lang-switch").first.get_by_text("RU").click()
        expect(boss.get_by_role("link", name="Голосовая почта")).to_be_visible()
        expect(boss.get_by_test_id("vm-mark-all")).to_have_text("Отметить все прослушанными")
        shot(boss, "voicemail-05-ru")
        assert errors == [], errors
    finally:
        ctx_a.close()
        ctx_b.close()
        ctx_o.close()
        owner.close()
