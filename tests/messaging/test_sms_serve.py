"""The real product: `clickphone serve` with a carrier's SMSC configured through the CLI
(`trunk add --smpp-...`) sends an SMS typed into the API, gets its receipt, takes an incoming
SMS, and after a kill -9 and a restart still has every message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from smsc import TestSmsc

from telephony.serve import Serve

LINE = "+74957000001"


async def _signin(base: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=10)
    r = await client.post(
        "/api/v1/auth/signin", json={"email": "owner@example.com", "password": "Owner-Pass-123"}
    )
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


async def _wait(client: httpx.AsyncClient, message_id: str, status: str, thread: int) -> None:
    for _ in range(200):
        msgs = (await client.get(f"/api/v1/messages/conversations/{thread}/messages")).json()
        if any(m["id"] == message_id and m["status"] == status for m in msgs):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"message {message_id} never became {status}: {msgs}")


async def test_serve_sends_and_receives_sms_and_keeps_them(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    async with TestSmsc(system_id="acme-sms", password="s3cret") as smsc:
        await asyncio.to_thread(serve.company, ("401", "Ann"))
        await asyncio.to_thread(serve.cli, "number", "add", LINE, "--tenant", "Acme Ltd")
        trunk = await asyncio.to_thread(
            serve.cli,
            "trunk", "add", "carrier", "--host", "127.0.0.1",
            "--smpp-host", smsc.host, "--smpp-port", str(smsc.port),
            "--smpp-system-id", "acme-sms", "--smpp-password", "s3cret", "--sms-rate", "190",
        )  # fmt: skip
        assert trunk["smpp_host"] == smsc.host and trunk["has_smpp_password"] == "True"
        await asyncio.to_thread(serve.start)
        try:
            await smsc.wait_bound(10)
            client = await _signin(serve.base)
            r = await client.post(
                "/api/v1/messages/sms", json={"to": "+74951234567", "text": "Заказ готов"}
            )
            assert r.status_code == 201, r.text
            sms = r.json()
            await _wait(client, sms["id"], "delivered", sms["conversation_id"])
            [sub] = smsc.submits
            assert (sub.source, sub.destination, sub.text) == (
                "74957000001",
                "74951234567",
                "Заказ готов",
            )
            assert (await smsc.send_mo("+74951234567", LINE, "Спасибо")).acknowledged
            thread = f"/api/v1/messages/conversations/{sms['conversation_id']}"
            msgs = (await client.get(f"{thread}/messages")).json()
            assert [(m["direction"], m["body"]) for m in msgs] == [
                ("outgoing", "Заказ готов"),
                ("incoming", "Спасибо"),
            ]
            await client.aclose()
        finally:
            await asyncio.to_thread(serve.kill9)
        # after a crash: everything is still there, the report counts it, SMS still flow
        await asyncio.to_thread(serve.start)
        try:
            client = await _signin(serve.base)
            h = (await client.get("/api/v1/messages/history")).json()
            assert (h["totals"]["sms_outgoing"], h["totals"]["sms_incoming"]) == (1, 1)
            assert (h["totals"]["delivered"], h["totals"]["cost"]) == (1, 190)
            await smsc.wait_bound(10)
            r = await client.post("/api/v1/messages/sms", json={"to": "+74951234567", "text": "2"})
            await _wait(client, r.json()["id"], "delivered", sms["conversation_id"])
            await client.aclose()
        finally:
            await asyncio.to_thread(serve.stop)
