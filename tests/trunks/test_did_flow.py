"""A call from a carrier to a virtual number with a published flow follows the flow (not the
number's default employee)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from _peers import require
from clickphone.bus.bus import EventBus
from clickphone.calls.flowroute import install_flows
from clickphone.db.models import Employee, PhoneNumber
from clickphone.flows.model import FlowGraph
from clickphone.sipserver import SipServer
from clickphone.trunks.wiring import Pstn
from interop.pjua import PjPhone, pjsua2_available
from telephony.flowfakes import FakeFlows
from trunks.carrier import Carrier
from trunks.pstn_pbx import DID, PstnPbx, start_pstn_pbx, stop_pstn_pbx

pytestmark = pytest.mark.interop


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[PstnPbx, FakeFlows, Carrier]]:
    require(pjsua2_available(), "pjsua2-python")
    flows = FakeFlows(tmp_path)

    def plug(server: SipServer, pstn: Pstn, bus: EventBus) -> None:
        install_flows(server, flows, data_dir=tmp_path / "data", bus=bus, trunk_router=pstn.router)

    pbx = await start_pstn_pbx(tmp_path, before_start=plug)
    carrier = await Carrier(ip="127.0.0.2", register_expires=2).start()
    try:
        yield pbx, flows, carrier
    finally:
        carrier.close()
        await stop_pstn_pbx(pbx)


async def test_inbound_did_follows_its_published_flow(
    setup: tuple[PstnPbx, FakeFlows, Carrier], tmp_path: Path
) -> None:
    pbx, flows, carrier = setup
    async with pbx.database.session() as s:
        number_id = (
            await s.execute(select(PhoneNumber.id).where(PhoneNumber.e164 == DID))
        ).scalar_one()
        carol = (
            await s.execute(select(Employee.id).where(Employee.extension == "103"))
        ).scalar_one()
    flows.flows[("number", number_id)] = FlowGraph.model_validate(
        {
            "nodes": [
                {"id": "start", "type": "start"},
                {"id": "desk", "type": "ring_group", "employee_ids": [carol]},
            ],
            "edges": [{"source": "start", "output": "next", "target": "desk"}],
        }
    )
    await pbx.add_trunk(
        name="carrier-a", kind="ip", host=carrier.ip, port=carrier.port, priority=10,
        options_interval=0,
    )  # fmt: skip
    ext = pbx.exts["103"]
    phone = await asyncio.to_thread(
        PjPhone, registrar=pbx.hostport, user=ext.username, password=ext.password,
        workdir=tmp_path, name="carol", auto_answer=200,
    )  # fmt: skip
    try:
        phone.send("register")
        assert (await asyncio.to_thread(phone.wait_for, "reg"))["code"] == 200
        await asyncio.sleep(0.6)  # the trunk registry picks the new trunk up
        call_id, resp = await carrier.call(DID.lstrip("+"), "79161234567", pbx.address)
        assert resp.status == 200
        incoming = await asyncio.to_thread(phone.wait_for, "incoming")
        assert "+79161234567" in incoming["remote"]
        bye = await carrier.hangup(call_id, pbx.address)
        assert bye.status == 200
        await asyncio.to_thread(
            phone.wait_for, "call_state", lambda e: e["state"] == "DISCONNECTED"
        )
    finally:
        await asyncio.to_thread(phone.close)
    for _ in range(100):
        records = await pbx.records()
        if records and records[0].outcome:
            break
        await asyncio.sleep(0.05)
    [record] = records
    assert record.direction == "incoming" and record.callee == DID
    assert record.outcome == "answered"
    assert record.line == DID  # the statistics' "by line": the number the call came in on
    assert any(t.get("step") == "flow" and t.get("kind") == "number" for t in record.trace)
