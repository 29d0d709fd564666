"""The REST API of a running `clickphone serve`, for e2e set-up: a signed-in (or signed-up)
client and employees made through it (imported as ``e2e.cabinet_api``)."""

from __future__ import annotations

from typing import Any

import httpx

EMPLOYEE_PASSWORD = "Empl-Pass-123"


def api_client(
    base: str, who: dict[str, str], *, signup_company: str | None = None
) -> httpx.Client:
    """Signed in as ``who`` ({email, password}); with ``signup_company``, signed up first as
    the owner of a new company of that name."""
    c = httpx.Client(base_url=base, timeout=10)
    if signup_company is not None:
        r = c.post(
            "/api/v1/auth/signup/company",
            json={"company_name": signup_company, "full_name": "Olga Owner", **who},
        )
        assert r.status_code == 201, r.text
    else:
        r = c.post("/api/v1/auth/signin", json=who)
        assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def add_employee(c: httpx.Client, name: str, email: str) -> dict[str, Any]:
    """An employee (password ``EMPLOYEE_PASSWORD``, no SIP device)."""
    r = c.post(
        "/api/v1/employees",
        json={
            "full_name": name,
            "email": email,
            "password": EMPLOYEE_PASSWORD,
            "create_device": False,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())
