"""The live-status WebSocket against a real uvicorn server on loopback (SQLite and PostgreSQL):
cookie authentication, Origin check, tenant isolation, snapshots, sign-out, clean unsubscribe.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from clickphone.api import ws as ws_module
from clickphone.bus import Event, EventBus

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def base_url(app: Any) -> AsyncIterator[str]:
    """The app served by uvicorn on an ephemeral loopback port (lifespan on: outbox runs)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def signup(base: str, company: str, email: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=f"http://{base}")
    r = await c.post(
        "/api/v1/auth/signup/company",
        json={"company_name": company, "email": email, "password": "password123"},
    )
    assert r.status_code == 201, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def open_ws(base: str, client: httpx.AsyncClient | None, origin: str | None = None) -> Any:
    headers = {"Cookie": cookie_header(client)} if client is not None else {}
    return connect(
        f"ws://{base}/api/v1/ws",
        additional_headers=headers,
        origin=origin or f"http://{base}",  # type: ignore[arg-type]
        open_timeout=5,
    )


async def next_message(ws: ClientConnection, kind: str, timeout: float = 5) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] == kind:
            return msg


async def next_event(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return (await next_message(ws, "event", timeout))["event"]


async def test_events_reach_only_their_tenant(base_url: str, bus: EventBus) -> None:
    a = await signup(base_url, "Alpha", "alpha@example.com")
    b = await signup(base_url, "Beta", "beta@example.com")
    tenant_a = (await a.get("/api/v1/me")).json()["tenant"]["id"]
    tenant_b = (await b.get("/api/v1/me")).json()["tenant"]["id"]
    async with open_ws(base_url, a) as wa, open_ws(base_url, b) as wb:
        hello = await next_message(wa, "hello")
        assert hello["tenant_id"] == tenant_a
        snap = await next_message(wa, "snapshot")
        assert snap["active_calls"] == [] and snap["devices_online"] == 0
        assert (await next_message(wb, "hello"))["tenant_id"] == tenant_b

        # A call of tenant A, straight on the bus, and a device made through A's API (outbox).
        await bus.publish(Event("call.started", {"id": "c1", "callee": "101"}, tenant_id=tenant_a))
        got = await next_event(wa)
        assert got["type"] == "call.started" and got["payload"]["id"] == "c1"
        emp = (await a.get("/api/v1/employees")).json()["items"][0]
        r = await a.post(f"/api/v1/employees/{emp['id']}/devices", json={"label": "desk"})
        assert r.status_code == 201, r.text
        got = await next_event(wa)
        assert got["type"] == "device.created" and got["tenant_id"] == tenant_a
        # Events of no tenant, and of types the page does not need, go to nobody.
        await bus.publish(Event("call.started", {"id": "x"}, tenant_id=None))
        await bus.publish(Event("tenant.created", {"id": "y"}, tenant_id=tenant_b))

        # B's first event is its own marker: nothing of A's came before it.
        await bus.publish(Event("call.ended", {"id": "b-marker"}, tenant_id=tenant_b))
        got = await next_event(wb)
        assert got["payload"]["id"] == "b-marker" and got["tenant_id"] == tenant_b
        await bus.publish(Event("call.ended", {"id": "a-marker"}, tenant_id=tenant_a))
        assert (await next_event(wa))["payload"]["id"] == "a-marker"
    await a.aclose()
    await b.aclose()


async def test_handshake_needs_session_and_same_origin(base_url: str) -> None:
    a = await signup(base_url, "Alpha", "alpha@example.com")
    with pytest.raises(InvalidStatus) as info:
        async with open_ws(base_url, None):
            pass
    assert info.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as info:
        async with open_ws(base_url, a, origin="http://evil.example"):
            pass
    assert info.value.response.status_code == 403
    # A bogus cookie is refused as well.
    bogus = httpx.AsyncClient()
    bogus.cookies.set("clickphone_session", "forged")
    with pytest.raises(InvalidStatus):
        async with open_ws(base_url, bogus):
            pass
    await bogus.aclose()
    await a.aclose()


async def test_snapshots_signout_and_unsubscribe(
    base_url: str, bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "SNAPSHOT_SECONDS", 0.2)
    a = await signup(base_url, "Alpha", "alpha@example.com")
    baseline = len(bus._subs)
    async with open_ws(base_url, a) as wa:
        await next_message(wa, "snapshot")
        await next_message(wa, "snapshot")  # periodic
        assert len(bus._subs) == baseline + len(ws_module.PATTERNS)
    for _ in range(100):  # the server notices the close and unsubscribes
        if len(bus._subs) == baseline:
            break
        await asyncio.sleep(0.02)
    assert len(bus._subs) == baseline

    # Signing out ends the socket at the next snapshot with 4401.
    async with open_ws(base_url, a) as wa:
        await next_message(wa, "snapshot")
        assert (await a.post("/api/v1/auth/signout")).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            await next_message(wa, "never")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    await a.aclose()


def test_slow_client_queue_drops_oldest() -> None:
    q = ws_module.Outbox(size=3)
    for i in range(5):
        q.put(Event("call.started", {"n": i}, tenant_id=1))
    items, dropped = q.take()
    assert [e.payload["n"] for e in items] == [2, 3, 4] and dropped == 2
    assert q.take() == ([], 0)


def test_same_origin() -> None:
    same = ws_module.same_origin
    assert same("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert same("https://pbx.example", "pbx.example:443")
    assert same("http://[::1]:80", "[::1]")
    assert not same("http://127.0.0.1:8081", "127.0.0.1:8080")
    assert not same("http://pbx.example:8080", "pbx.example")
    assert not same("null", "pbx.example")
    assert not same("http://pbx.example", None)


def test_message_and_notification_events_reach_only_their_users() -> None:
    from clickphone.accounts.scope import Actor

    ann = Actor(user_id=1, role="employee", tenant_id=7)
    boss = Actor(user_id=2, role="tenant_owner", tenant_id=7)
    office = Actor(user_id=3, role="operator_admin", tenant_id=None)
    chat = Event("message.created", {"conversation_id": 5, "user_ids": [1, 9]}, tenant_id=7)
    assert ws_module.visible_to(ann, chat)
    # the company's owner and the operator's staff are not in the conversation
    assert not ws_module.visible_to(boss, chat)
    assert not ws_module.visible_to(office, chat)
    note = Event("notification.created", {"notification_id": 1, "user_id": 2}, tenant_id=7)
    assert ws_module.visible_to(boss, note) and not ws_module.visible_to(ann, note)
    # company-wide events are unchanged
    call = Event("call.started", {"id": "c"}, tenant_id=7)
    assert ws_module.visible_to(ann, call) and ws_module.visible_to(boss, call)
