"""A real call between two pjsua2 phones is recorded: caller on the left, callee on the right.

Recording is driven by bus events (``call.answered``/``call.ended``) through
:class:`RecordingService`, with the tenant's default policy, an employee rule, and on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from _peers import require
from clickphone.db.models import Employee, Recording, RecordingRule, RecordingSettings
from clickphone.recordings.service import RecordingService
from clickphone.rtp.tone import tone_powers
from interop.pjua import PjPhone, pjsua2_available
from media.test_recorder import decode_file
from telephony.pbx import Pbx, start_pbx, stop_pbx

pytestmark = pytest.mark.interop


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    require(pjsua2_available(), "pjsua2-python")
    p = await start_pbx(tmp_path)
    yield p
    await stop_pbx(p)


@pytest.fixture
async def service(pbx: Pbx, tmp_path: Path) -> AsyncIterator[RecordingService]:
    svc = RecordingService(
        pbx.database,
        pbx.bus,
        lambda: pbx.media,
        root=(tmp_path / "recordings").resolve(),
        secret="s" * 40,
        retention_interval=0,
    )
    await svc.start()
    yield svc
    await svc.stop()


async def phone(pbx: Pbx, tmp_path: Path, ext: str, **kw: object) -> PjPhone:
    e = pbx.exts[ext]
    return await asyncio.to_thread(
        PjPhone,
        registrar=pbx.hostport,
        user=e.username,
        password=e.password,
        workdir=tmp_path,
        name=f"ext{ext}",
        **kw,  # type: ignore[arg-type]
    )


async def wait(p: PjPhone, event: str, pred=lambda e: True, timeout: float = 10.0) -> dict:
    return await asyncio.to_thread(p.wait_for, event, pred, timeout)


async def talk(pbx: Pbx, tmp_path: Path, seconds: float, during=None) -> None:
    """101 (1000 Hz) calls 102 (1500 Hz), they talk, the caller hangs up."""
    caller = await phone(pbx, tmp_path, "101", tone=1000.0)
    callee = await phone(pbx, tmp_path, "102", tone=1500.0, auto_answer=200)
    try:
        for p in (caller, callee):
            p.send("register")
            assert (await wait(p, "reg"))["code"] == 200
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(caller, "media")
        if during is not None:
            await during()
        await asyncio.sleep(seconds)
        caller.send("hangup")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)


async def recordings(pbx: Pbx) -> list[Recording]:
    async with pbx.database.session() as session:
        return list((await session.scalars(select(Recording))).all())


def assert_channels(path: Path) -> None:
    left, right, rate = decode_file(path)
    assert len(left) > rate  # more than a second of audio
    lp = tone_powers(left[rate // 2 :], [1000, 1500], rate)
    rp = tone_powers(right[rate // 2 :], [1000, 1500], rate)
    assert lp[1000] > 20 * lp[1500], lp  # caller's tone on the left
    assert rp[1500] > 20 * rp[1000], rp  # callee's tone on the right


async def test_call_recorded_by_tenant_policy(
    pbx: Pbx, service: RecordingService, tmp_path: Path
) -> None:
    async with pbx.database.transaction() as session:
        tenant_id = (await session.scalars(select(Employee.tenant_id))).first()
        session.add(RecordingSettings(tenant_id=tenant_id, enabled=True, retention_days=30))
    await talk(pbx, tmp_path, 2.0)
    await asyncio.sleep(0.3)
    await service.drain()
    [rec] = await recordings(pbx)
    [record] = await pbx.records()
    assert rec.state == "ready", rec.error
    assert rec.call_record_id == record.id and rec.sip_call_id == record.sip_call_id
    assert rec.caller_employee_id == record.caller_employee_id
    assert rec.callee_employee_id == record.callee_employee_id
    assert rec.format == "ogg" and rec.path.endswith(".ogg") and not rec.on_demand
    assert rec.path.startswith(f"{tenant_id}/")
    path = service.root / rec.path
    assert rec.size_bytes == (await asyncio.to_thread(path.stat)).st_size > 0
    assert 1.5 < rec.duration_seconds < 4.0
    await asyncio.to_thread(assert_channels, path)


async def test_employee_rule_off_and_on_demand(
    pbx: Pbx, service: RecordingService, tmp_path: Path
) -> None:
    async with pbx.database.transaction() as session:
        emp = (await session.scalars(select(Employee).where(Employee.extension == "102"))).one()
        session.add(RecordingSettings(tenant_id=emp.tenant_id, enabled=True))
        session.add(RecordingRule(tenant_id=emp.tenant_id, employee_id=emp.id, enabled=False))

    async def start_on_demand() -> None:
        await service.drain()
        assert await recordings(pbx) == []  # the employee rule switched recording off
        [record] = await pbx.records()
        rec = await service.start_on_demand(record)
        assert rec.on_demand and rec.state == "recording"

    await talk(pbx, tmp_path, 1.5, during=start_on_demand)
    await asyncio.sleep(0.3)
    await service.drain()
    [rec] = await recordings(pbx)
    assert rec.state == "ready" and rec.on_demand
    await asyncio.to_thread(assert_channels, service.root / rec.path)
