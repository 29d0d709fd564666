"""Test helpers for the REST API: a signed-in httpx client and the error-format check.

(Imported as ``apitest`` — pytest puts tests/ on the path; ``from conftest import`` would be
ambiguous with the conftest.py files of subfolders.)"""

from __future__ import annotations

from typing import Any

import httpx


class Api:
    """An httpx client bound to the app, that signs in and sends the CSRF header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver"
        )

    async def signup_company(
        self, company: str, email: str, password: str = "password123"
    ) -> httpx.AsyncClient:
        c = self.client()
        r = await c.post(
            "/api/v1/auth/signup/company",
            json={
                "company_name": company,
                "email": email,
                "password": password,
                "full_name": f"Owner of {company}",
            },
        )
        assert r.status_code == 201, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    async def signin(self, email: str, password: str) -> httpx.AsyncClient:
        c = self.client()
        r = await c.post("/api/v1/auth/signin", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c


def assert_error(response: httpx.Response, status: int, error_id: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_id", "message", "details"}, body
    assert body["error_id"] == error_id, body
    return body
