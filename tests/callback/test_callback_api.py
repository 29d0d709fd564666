"""Click-to-call through the HTTP API with a fake originator: sites CRUD, CORS, number
normalisation, blacklist, hourly limits, tenant isolation and the cabinet's "Call back"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from apitest import Api, assert_error

SHOP = "https://shop.example"


class FakeOriginator:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = False

    async def call_back(
        self,
        *,
        tenant_id: int,
        employee_id: int | None,
        department_id: int | None,
        number_e164: str,
        source: str,
    ) -> str:
        if self.fail:
            raise RuntimeError("media plane down")
        self.calls.append(
            {
                "tenant_id": tenant_id,
                "employee_id": employee_id,
                "department_id": department_id,
                "number": number_e164,
                "source": source,
            }
        )
        return f"call-{len(self.calls)}"


@pytest.fixture
def originator(app: Any) -> FakeOriginator:
    fake = FakeOriginator()
    app.state.originator = fake
    return fake


async def me(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/api/v1/me")).json())


async def owner_employee_id(client: httpx.AsyncClient) -> int:
    items = (await client.get("/api/v1/employees")).json()["items"]
    return int(items[0]["id"])


async def create_site(client: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Shop",
        "allowed_origins": ["https://Shop.example:443/"],
        "employee_id": await owner_employee_id(client),
        "per_number_hourly": 2,
        "per_site_hourly": 3,
        **extra,
    }
    r = await client.post("/api/v1/callback-sites", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def public(api: Api, key: str, number: str, origin: str | None = SHOP) -> Any:
    headers = {"Origin": origin} if origin else {}
    return api.client().post(
        f"/api/v1/public/callback/{key}", json={"number": number}, headers=headers
    )


async def test_widget_call_back_with_cors_and_limits(api: Api, originator: FakeOriginator) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    site = await create_site(acme)
    assert site["allowed_origins"] == [SHOP] and len(site["public_key"]) >= 32
    key = site["public_key"]

    # Preflight from the shop is allowed; from elsewhere it is not.
    r = await api.client().options(
        f"/api/v1/public/callback/{key}",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
    )
    assert r.headers["access-control-allow-origin"] == SHOP
    assert "POST" in r.headers["access-control-allow-methods"]
    r = await api.client().options(
        f"/api/v1/public/callback/{key}", headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in r.headers

    # A national number is normalised with the tenant's country (RU) and called.
    r = await public(api, key, "8 (916) 123-45-67")
    assert r.status_code == 200, r.text
    assert r.json() == {"call_id": "call-1", "number": "+79161234567"}
    assert r.headers["access-control-allow-origin"] == SHOP
    (call,) = originator.calls
    assert call["number"] == "+79161234567" and call["source"] == "widget"
    assert call["employee_id"] == site["employee_id"] and call["department_id"] is None
    assert call["tenant_id"] == (await me(acme))["tenant"]["id"]

    assert_error(await public(api, key, "8 916 123-45-67", origin="https://evil.example"), 403,
                 "callback_origin_denied")  # fmt: skip
    assert_error(await public(api, key, "8 916 123-45-67", origin=None), 403,
                 "callback_origin_denied")  # fmt: skip
    assert_error(await public(api, key, "hello"), 422, "validation.failed")
    assert_error(await public(api, key, "+12125551234"), 403, "callback_country_not_allowed")
    assert_error(await public(api, "no-such-key", "+79161234567"), 404, "callback_site_not_found")

    # Per visitor number: 2 an hour; the refusal is readable by the widget (CORS) and says
    # when to retry.
    assert (await public(api, key, "+79161234567")).status_code == 200
    r = await public(api, key, "+7 916 123 45 67")
    body = assert_error(r, 429, "callback_limited")
    assert body["details"]["limit"] == "number"
    assert 3500 <= int(r.headers["retry-after"]) <= 3600
    assert r.headers["access-control-allow-origin"] == SHOP
    # Per site: 3 an hour in all.
    assert (await public(api, key, "+79161230000")).status_code == 200
    body = assert_error(await public(api, key, "+79161239999"), 429, "callback_limited")
    assert body["details"]["limit"] == "site"
    assert len(originator.calls) == 3


async def test_blocked_numbers_unavailable_originator_and_disabled_sites(
    api: Api, app: Any, originator: FakeOriginator
) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    deps = await acme.post("/api/v1/departments", json={"name": "Sales"})
    assert deps.status_code == 201, deps.text
    site = await create_site(acme, employee_id=None, department_id=deps.json()["id"],
                             allowed_origins=[])  # fmt: skip
    key = site["public_key"]
    r = await acme.post("/api/v1/blocked-numbers", json={"pattern": "+79160000000"})
    assert r.status_code == 201
    assert_error(await public(api, key, "+79160000000"), 403, "callback_number_blocked")
    # No allowed origins: any website may use it.
    r = await public(api, key, "+79161234567", origin="https://any.example")
    assert r.status_code == 200, r.text
    assert originator.calls[-1]["department_id"] == deps.json()["id"]

    originator.fail = True
    assert_error(await public(api, key, "+79161112233"), 503, "callback_unavailable")
    originator.fail = False
    del app.state.originator
    assert_error(await public(api, key, "+79161112233"), 503, "callback_unavailable")
    app.state.originator = originator
    # The failed attempts did not count against the site's limit (3 an hour).
    assert (await public(api, key, "+79161112233")).status_code == 200

    r = await acme.patch(f"/api/v1/callback-sites/{site['id']}", json={"enabled": False})
    assert r.json()["enabled"] is False
    assert_error(await public(api, key, "+79161234567"), 404, "callback_site_not_found")
    r = await acme.patch(f"/api/v1/callback-sites/{site['id']}",
                         json={"enabled": True, "rotate_key": True})  # fmt: skip
    assert r.json()["public_key"] != key
    assert_error(await public(api, key, "+79161234567"), 404, "callback_site_not_found")


async def test_sites_are_the_company_admins_business(api: Api, originator: FakeOriginator) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    other = await api.signup_company("Other", "owner@other-example.com")
    site = await create_site(acme)
    assert_error(await other.get(f"/api/v1/callback-sites/{site['id']}"), 404, "not_found")
    assert_error(await other.patch(f"/api/v1/callback-sites/{site['id']}", json={"name": "x"}),
                 404, "not_found")  # fmt: skip
    assert_error(await other.delete(f"/api/v1/callback-sites/{site['id']}"), 404, "not_found")
    assert (await other.get("/api/v1/callback-sites")).json() == []
    # Another company's employee cannot be the target.
    err = assert_error(
        await other.post("/api/v1/callback-sites",
                         json={"name": "x", "employee_id": site["employee_id"]}),
        422,
        "validation.failed",
    )  # fmt: skip
    assert "employee_id" in err["details"]["fields"]
    assert_error(await acme.post("/api/v1/callback-sites", json={"name": "x"}), 422,
                 "validation.failed")  # fmt: skip
    bad = await acme.post("/api/v1/callback-sites", json={"name": "x", "employee_id": site[
        "employee_id"], "allowed_origins": ["shop.example/path"]})  # fmt: skip
    assert_error(bad, 422, "validation.failed")
    listed = (await acme.get("/api/v1/callback-sites")).json()
    assert [s["id"] for s in listed] == [site["id"]]
    assert (await acme.delete(f"/api/v1/callback-sites/{site['id']}")).status_code == 204


async def test_cabinet_call_back(api: Api, originator: FakeOriginator) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    r = await acme.post("/api/v1/calls/callback", json={"number": "8 916 123 45 67"})
    assert r.status_code == 200, r.text
    assert r.json()["number"] == "+79161234567"
    (call,) = originator.calls
    assert call["source"] == "cabinet"
    assert call["employee_id"] == await owner_employee_id(acme)
    assert_error(await acme.post("/api/v1/calls/callback", json={"number": "x1"}), 422,
                 "validation.failed")  # fmt: skip
    # Individuals have no extension to ring first.
    solo = api.client()
    r = await solo.post("/api/v1/auth/signup/individual",
                        json={"email": "s@example.com", "password": "password123",
                              "nickname": "solo"})  # fmt: skip
    solo.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    assert_error(await solo.post("/api/v1/calls/callback", json={"number": "+79161234567"}),
                 403, "permission.denied")  # fmt: skip


async def test_cabinet_call_back_to_a_company_extension(
    api: Api, originator: FakeOriginator
) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    other = await api.signup_company("Other", "owner@other-example.com")
    r = await acme.post(
        "/api/v1/employees",
        json={"full_name": "Ann", "email": "ann@acme-example.com", "password": "password123",
              "extension": "205"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await acme.post("/api/v1/departments", json={"name": "Sales", "extension": "50"})
    assert r.status_code == 201, r.text
    r = await other.post(
        "/api/v1/employees",
        json={"full_name": "Oleg", "email": "oleg@other-example.com", "password": "password123",
              "extension": "777"},
    )  # fmt: skip
    assert r.status_code == 201, r.text

    # A colleague's extension and a department's are called as dialled (no E.164, no
    # country or blacklist checks for them); the signed-in employee's phones ring first.
    r = await acme.post("/api/v1/calls/callback", json={"number": " 205 "})
    assert r.status_code == 200, r.text
    assert r.json()["number"] == "205"
    r = await acme.post("/api/v1/calls/callback", json={"number": "50"})  # a short one
    assert r.status_code == 200, r.text
    assert [(c["number"], c["source"]) for c in originator.calls] == [
        ("205", "cabinet"),
        ("50", "cabinet"),
    ]
    assert originator.calls[0]["employee_id"] == await owner_employee_id(acme)

    # Another company's extension is not a number this company can call back.
    err = assert_error(
        await acme.post("/api/v1/calls/callback", json={"number": "777"}), 422, "validation.failed"
    )
    assert "number" in err["details"]["fields"]
    # ... while Other's own employees may (Oleg is not Other's owner: the owner calls him).
    r = await other.post("/api/v1/calls/callback", json={"number": "777"})
    assert r.status_code == 200, r.text
    # An unused extension of the company is not a number either.
    assert_error(await acme.post("/api/v1/calls/callback", json={"number": "206"}), 422,
                 "validation.failed")  # fmt: skip
    # The widget still takes phone numbers only.
    site = await create_site(acme, allowed_origins=[])
    assert_error(await public(api, site["public_key"], "205"), 422, "validation.failed")
    assert len(originator.calls) == 3


async def test_cabinet_call_back_refuses_the_own_extension(
    api: Api, originator: FakeOriginator
) -> None:
    acme = await api.signup_company("Acme", "owner@acme-example.com")
    me_emp = (await acme.get("/api/v1/employees")).json()["items"][0]
    r = await acme.patch(f"/api/v1/employees/{me_emp['id']}", json={"extension": "101"})
    assert r.status_code == 200, r.text
    err = assert_error(
        await acme.post("/api/v1/calls/callback", json={"number": "101"}), 422, "validation.failed"
    )
    assert "own extension" in err["details"]["fields"]["number"]
    assert originator.calls == []
