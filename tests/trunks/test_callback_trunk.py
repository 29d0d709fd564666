"""Click-to-call to a real phone number: ClickPhone rings the employee's phone first, then
calls the visitor's E.164 number through the carrier trunk (with the company's caller ID),
and bridges them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from _peers import require
from clickphone.bus.bus import EventBus
from clickphone.calls.flowroute import install_flows
from clickphone.calls.originate import CallbackOriginator
from clickphone.db.models import Employee
from clickphone.sipserver import SipServer
from clickphone.trunks.wiring import Pstn
from interop.pjua import PjPhone, pjsua2_available
from telephony.flowfakes import FakeFlows
from trunks.carrier import Carrier, from_user
from trunks.pstn_pbx import CALLER_ID, PstnPbx, start_pstn_pbx, stop_pstn_pbx

pytestmark = pytest.mark.interop


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[PstnPbx, Carrier]]:
    require(pjsua2_available(), "pjsua2-python")

    def plug(server: SipServer, pstn: Pstn, bus: EventBus) -> None:
        install_flows(
            server, FakeFlows(tmp_path), data_dir=tmp_path / "data", bus=bus,
            trunk_router=pstn.router,
        )  # fmt: skip

    pbx = await start_pstn_pbx(tmp_path, before_start=plug)
    carrier = await Carrier(ip="127.0.0.2", challenge_invites=False).start()
    try:
        yield pbx, carrier
    finally:
        carrier.close()
        await stop_pstn_pbx(pbx)


async def test_callback_rings_the_employee_then_the_number_through_the_trunk(
    setup: tuple[PstnPbx, Carrier], tmp_path: Path
) -> None:
    pbx, carrier = setup
    await pbx.add_trunk(
        name="carrier-a", kind="ip", host=carrier.ip, port=carrier.port, priority=10,
        allowed_addresses=[f"{carrier.ip}/32"], options_interval=0,
    )  # fmt: skip
    async with pbx.database.session() as s:
        alice_id = (
            await s.execute(select(Employee.id).where(Employee.extension == "101"))
        ).scalar_one()
    ext = pbx.exts["101"]
    alice = await asyncio.to_thread(
        PjPhone, registrar=pbx.hostport, user=ext.username, password=ext.password,
        workdir=tmp_path, name="alice", auto_answer=200,
    )  # fmt: skip
    try:
        alice.send("register")
        assert (await asyncio.to_thread(alice.wait_for, "reg"))["code"] == 200
        await asyncio.sleep(0.6)  # the trunk registry picks the trunk up
        call_id = await CallbackOriginator(lambda: pbx.server).call_back(
            tenant_id=pbx.tenant_id,
            employee_id=alice_id,
            department_id=None,
            number_e164="+79161234567",
            source="site",
        )
        incoming = await asyncio.to_thread(alice.wait_for, "incoming")
        assert "+79161234567" in incoming["remote"]
        await asyncio.to_thread(alice.wait_for, "call_state", lambda e: e["state"] == "CONFIRMED")
        for _ in range(100):
            if carrier.invites:
                break
            await asyncio.sleep(0.05)
        [invite] = carrier.invites
        assert invite.uri.startswith("sip:+79161234567@")
        assert from_user(invite) == CALLER_ID
        calls = pbx.server.calls
        assert calls is not None
        for _ in range(100):
            if [c["state"] for c in calls.active_calls()] == ["answered"]:
                break
            await asyncio.sleep(0.05)
        assert [c["id"] for c in calls.active_calls()] == [call_id]
        alice.send("hangup")
        await asyncio.to_thread(
            alice.wait_for, "call_state", lambda e: e["state"] == "DISCONNECTED"
        )
        for _ in range(100):
            if carrier.byes:
                break
            await asyncio.sleep(0.05)
        assert carrier.byes == 1
    finally:
        await asyncio.to_thread(alice.close)
    for _ in range(100):
        records = await pbx.records()
        if records and records[0].outcome:
            break
        await asyncio.sleep(0.05)
    [record] = records
    assert record.direction == "outgoing" and record.callee == "+79161234567"
    assert record.outcome == "answered"
