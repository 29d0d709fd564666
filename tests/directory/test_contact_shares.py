"""Sharing a personal contact with an employee or a department (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx

from apitest import Api, assert_error


async def _employee(owner: httpx.AsyncClient, name: str, dept: int) -> int:
    r = await owner.post(
        "/api/v1/employees",
        json={
            "full_name": name,
            "email": f"{name.lower()}@example.com",
            "password": "password123",
            "department_id": dept,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _names(client: httpx.AsyncClient) -> set[str]:
    r = await client.get("/api/v1/contacts")
    assert r.status_code == 200, r.text
    return {c["name"] for c in r.json()["items"]}


async def test_share_with_employee_and_department(api: Api) -> None:
    owner = await api.signup_company("Alpha", "owner@example.com")
    sales = (await owner.post("/api/v1/departments", json={"name": "Sales"})).json()["id"]
    support = (await owner.post("/api/v1/departments", json={"name": "Support"})).json()["id"]
    anna_id = await _employee(owner, "Anna", sales)
    await _employee(owner, "Vera", sales)
    boris_id = await _employee(owner, "Boris", support)
    anna = await api.signin("anna@example.com", "password123")
    vera = await api.signin("vera@example.com", "password123")
    boris = await api.signin("boris@example.com", "password123")

    r = await owner.post("/api/v1/contacts", json={"name": "Private client", "numbers": []})
    assert r.status_code == 201 and r.json()["shared"] is False
    cid = r.json()["id"]
    assert "Private client" not in await _names(anna)
    assert_error(await anna.get(f"/api/v1/contacts/{cid}"), 404, "not_found")

    # With one employee.
    r = await owner.post(f"/api/v1/contacts/{cid}/shares", json={"employee_id": boris_id})
    assert r.status_code == 201, r.text
    to_boris = r.json()
    assert to_boris["name"] == "Boris" and to_boris["employee_id"] == boris_id
    assert "Private client" in await _names(boris)
    assert (await boris.get(f"/api/v1/contacts/{cid}")).json()["name"] == "Private client"
    assert "Private client" not in await _names(anna)
    # With a department: everyone in it.
    r = await owner.post(f"/api/v1/contacts/{cid}/shares", json={"department_id": sales})
    assert r.status_code == 201 and r.json()["name"] == "Sales"
    assert "Private client" in await _names(anna)
    assert "Private client" in await _names(vera)
    shares = (await owner.get(f"/api/v1/contacts/{cid}/shares")).json()
    assert [(s["employee_id"], s["department_id"]) for s in shares] == [
        (boris_id, None),
        (None, sales),
    ]

    # Recipients read only: no edits, no re-sharing, no share list.
    assert_error(
        await anna.patch(f"/api/v1/contacts/{cid}", json={"name": "X"}), 403, "permission.denied"
    )
    assert_error(await anna.delete(f"/api/v1/contacts/{cid}"), 403, "permission.denied")
    assert_error(
        await anna.post(f"/api/v1/contacts/{cid}/shares", json={"employee_id": boris_id}),
        403,
        "permission.denied",
    )
    assert_error(await anna.get(f"/api/v1/contacts/{cid}/shares"), 403, "permission.denied")

    # Bad requests.
    r = await owner.post(f"/api/v1/contacts/{cid}/shares", json={"employee_id": boris_id})
    assert_error(r, 409, "conflict.already_shared")
    r = await owner.post(
        f"/api/v1/contacts/{cid}/shares", json={"employee_id": anna_id, "department_id": sales}
    )
    assert_error(r, 422, "validation.failed")
    company = (
        await owner.post("/api/v1/contacts", json={"name": "Everyone's", "shared": True})
    ).json()["id"]
    r = await owner.post(f"/api/v1/contacts/{company}/shares", json={"employee_id": anna_id})
    assert_error(r, 422, "validation.failed")

    # Unshare.
    r = await owner.delete(f"/api/v1/contacts/{cid}/shares/{to_boris['id']}")
    assert r.status_code == 204
    assert "Private client" not in await _names(boris)
    assert_error(await boris.get(f"/api/v1/contacts/{cid}"), 404, "not_found")
    assert "Private client" in await _names(anna)
    assert_error(
        await owner.delete(f"/api/v1/contacts/{cid}/shares/{to_boris['id']}"), 404, "not_found"
    )

    # Another company: cannot see, share or target across tenants.
    other = await api.signup_company("Beta", "beta@example.com")
    assert "Private client" not in await _names(other)
    r = await other.post(f"/api/v1/contacts/{cid}/shares", json={"department_id": sales})
    assert_error(r, 404, "not_found")
    beta_dept = (await other.post("/api/v1/departments", json={"name": "Ops"})).json()["id"]
    r = await owner.post(f"/api/v1/contacts/{cid}/shares", json={"department_id": beta_dept})
    assert_error(r, 422, "validation.failed")
    beta_emp = (await other.get("/api/v1/employees")).json()["items"][0]["id"]
    r = await owner.post(f"/api/v1/contacts/{cid}/shares", json={"employee_id": beta_emp})
    assert_error(r, 422, "validation.failed")
