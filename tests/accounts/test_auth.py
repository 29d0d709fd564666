"""Sign-up, sign-in, failures and throttling, CSRF, bearer tokens, profile, error format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from apitest import Api, assert_error
from clickphone.app import create_app
from clickphone.bus import EventBus
from clickphone.config import Settings
from clickphone.db import Database


async def test_company_signup_creates_tenant_and_owner_and_signs_in(api: Api) -> None:
    c = api.client()
    r = await c.post(
        "/api/v1/auth/signup/company",
        json={
            "company_name": "Acme",
            "email": "Boss@Example.com",
            "password": "password123",
            "full_name": "Ann Boss",
            "position": "CEO",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"]["role"] == "tenant_owner"
    assert body["user"]["email"] == "boss@example.com"
    assert body["tenant"]["kind"] == "company"
    assert len(body["tenant"]["customer_number"]) == 8
    cookie = r.headers.get_list("set-cookie")
    session_cookie = next(x for x in cookie if x.startswith("clickphone_session="))
    assert "HttpOnly" in session_cookie and "Secure" not in session_cookie  # dev: plain HTTP
    csrf_cookie = next(x for x in cookie if x.startswith("clickphone_csrf="))
    assert "HttpOnly" not in csrf_cookie
    me = await c.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["tenant"]["name"] == "Acme"
    assert "password" not in me.text and "hash" not in me.text


async def test_individual_signup_with_nickname_and_avatar(api: Api) -> None:
    c = api.client()
    r = await c.post(
        "/api/v1/auth/signup/individual",
        json={"email": "solo@example.com", "password": "password123", "nickname": "solo"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["user"]["role"] == "individual"
    assert r.json()["tenant"]["kind"] == "individual"
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    up = await c.put("/api/v1/me/avatar", files={"file": ("a.png", png, "image/png")})
    assert up.status_code == 200, up.text
    assert up.json()["has_avatar"] is True
    got = await c.get("/api/v1/me/avatar")
    assert got.status_code == 200 and got.content == png
    bad = await c.put("/api/v1/me/avatar", files={"file": ("a.txt", b"hello", "text/plain")})
    assert assert_error(bad, 422, "validation.failed")["details"]["fields"] == {
        "file": "must be a PNG, JPEG or GIF image"
    }
    # Individuals have no company directory.
    assert_error(await c.get("/api/v1/departments"), 403, "permission.denied")


async def test_duplicate_email_is_a_conflict(api: Api) -> None:
    await api.signup_company("A", "dup@example.com")
    r = await api.client().post(
        "/api/v1/auth/signup/individual",
        json={"email": "DUP@example.com", "password": "password123", "nickname": "x"},
    )
    body = assert_error(r, 409, "conflict.email_taken")
    assert "email" in body["details"]["fields"]


async def test_validation_errors_name_every_field(api: Api) -> None:
    r = await api.client().post(
        "/api/v1/auth/signup/company",
        json={"company_name": "", "email": "not-an-email", "password": "short"},
    )
    body = assert_error(r, 422, "validation.failed")
    assert set(body["details"]["fields"]) == {"company_name", "email", "password"}


async def test_signin_signout_and_wrong_password(api: Api) -> None:
    await api.signup_company("Acme", "owner@example.com", "password123")
    c = api.client()
    assert_error(
        await c.post(
            "/api/v1/auth/signin", json={"email": "owner@example.com", "password": "wrong-password"}
        ),
        401,
        "auth.invalid_credentials",
    )
    assert_error(
        await c.post(
            "/api/v1/auth/signin", json={"email": "nobody@example.com", "password": "password123"}
        ),
        401,
        "auth.invalid_credentials",
    )
    c = await api.signin("OWNER@example.com", "password123")
    assert (await c.get("/api/v1/me")).status_code == 200
    # Signing out is a state change too: without the CSRF header it is refused.
    csrf = c.headers.pop("X-CSRF-Token")
    assert_error(await c.post("/api/v1/auth/signout"), 403, "auth.csrf")
    assert (await c.get("/api/v1/me")).status_code == 200
    c.headers["X-CSRF-Token"] = csrf
    assert (await c.post("/api/v1/auth/signout")).status_code == 204
    assert_error(await c.get("/api/v1/me"), 401, "auth.required")


async def test_failed_signins_are_throttled_per_email(api: Api) -> None:
    await api.signup_company("Acme", "owner@example.com", "password123")
    c = api.client()
    creds: dict[str, Any] = {"email": "owner@example.com", "password": "bad-password"}
    for _ in range(5):
        assert (await c.post("/api/v1/auth/signin", json=creds)).status_code == 401
    r = await c.post("/api/v1/auth/signin", json=creds)
    body = assert_error(r, 429, "auth.throttled")
    retry = int(r.headers["Retry-After"])
    assert 0 < retry <= 300 and body["details"]["retry_after"] == retry
    # Even the right password is refused while locked.
    creds["password"] = "password123"
    assert_error(await c.post("/api/v1/auth/signin", json=creds), 429, "auth.throttled")


async def test_failed_signins_are_throttled_per_ip(api: Api) -> None:
    c = api.client()
    for i in range(20):
        r = await c.post(
            "/api/v1/auth/signin", json={"email": f"u{i}@example.com", "password": "whatever1"}
        )
        assert r.status_code == 401
    r = await c.post(
        "/api/v1/auth/signin", json={"email": "fresh@example.com", "password": "whatever1"}
    )
    assert_error(r, 429, "auth.throttled")


async def test_csrf_required_for_cookie_auth_on_unsafe_methods(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    token = c.headers.pop("X-CSRF-Token")
    assert (await c.get("/api/v1/me")).status_code == 200  # safe method: no header needed
    assert_error(await c.patch("/api/v1/me", json={"position": "x"}), 403, "auth.csrf")
    assert_error(
        await c.patch("/api/v1/me", json={"position": "x"}, headers={"X-CSRF-Token": "nope"}),
        403,
        "auth.csrf",
    )
    r = await c.patch("/api/v1/me", json={"position": "CTO"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["position"] == "CTO"
    assert c.cookies.get("clickphone_csrf") == token  # the double-submit cookie


async def test_bearer_tokens(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    r = await c.post("/api/v1/tokens", json={"name": "crm"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    token_id = r.json()["id"]
    listed = (await c.get("/api/v1/tokens")).json()
    assert [t["id"] for t in listed] == [token_id] and "token" not in listed[0]

    bearer = api.client()
    bearer.headers["Authorization"] = f"Bearer {token}"
    assert (await bearer.get("/api/v1/me")).json()["user"]["email"] == "owner@example.com"
    # No CSRF for bearer tokens.
    r = await bearer.post("/api/v1/departments", json={"name": "Sales"})
    assert r.status_code == 201, r.text

    bad = api.client()
    bad.headers["Authorization"] = "Bearer cpk_wrong"
    assert_error(await bad.get("/api/v1/me"), 401, "auth.invalid_token")

    assert (await c.delete(f"/api/v1/tokens/{token_id}")).status_code == 204
    assert_error(await bearer.get("/api/v1/me"), 401, "auth.invalid_token")


async def test_profile_and_password_change(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com", "password123")
    other = await api.signin("owner@example.com", "password123")
    r = await c.patch("/api/v1/me", json={"full_name": "Ann B", "email": "ann@example.com"})
    assert r.status_code == 200 and r.json()["email"] == "ann@example.com"
    assert_error(
        await c.post(
            "/api/v1/me/password",
            json={"current_password": "nope-nope", "new_password": "newpassword1"},
        ),
        401,
        "auth.invalid_credentials",
    )
    r = await c.post(
        "/api/v1/me/password",
        json={"current_password": "password123", "new_password": "newpassword1"},
    )
    assert r.status_code == 204, r.text
    assert (await c.get("/api/v1/me")).status_code == 200  # this session stays
    assert_error(await other.get("/api/v1/me"), 401, "auth.expired")  # others are signed out
    await api.signin("ann@example.com", "newpassword1")


async def test_my_numbers(api: Api) -> None:
    c = await api.signup_company("Acme", "owner@example.com")
    me = (await c.get("/api/v1/me")).json()
    r = await c.get("/api/v1/me/numbers")
    assert r.status_code == 200
    assert r.json() == {
        "clickphone_number": me["tenant"]["customer_number"],
        "virtual_numbers": [],
        "extension": "100",  # the owner is the company's first employee
    }


async def test_health(api: Api) -> None:
    r = await api.client().get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert body["sip"] == {"status": "running"}


async def test_openapi_and_unknown_api_route(api: Api) -> None:
    c = api.client()
    spec = (await c.get("/api/openapi.json")).json()
    assert "/api/v1/auth/signin" in spec["paths"]
    assert (await c.get("/api/docs")).status_code == 200
    assert_error(await c.get("/api/v1/nope"), 404, "not_found")
    spa = await c.get("/some/spa/route")  # the cabinet, or the page saying it isn't built
    assert spa.status_code == 200 and spa.headers["content-type"].startswith("text/html")


async def test_spa_fallback_serves_the_built_cabinet(
    tmp_path: Path, settings: Settings, database: Database, bus: EventBus
) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<p>cabinet-index</p>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    app = create_app(settings.model_copy(update={"web_dist": dist}), database=database, bus=bus)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/employees/12")).text == "<p>cabinet-index</p>"
        assert (await c.get("/assets/app.js")).text == "console.log(1)"
        assert (await c.get("/api/v1/nope")).status_code == 404
