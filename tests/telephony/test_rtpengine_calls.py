"""A real pjsua2 call through ClickPhone's B2BUA with rtpengine as the media plane."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _peers import require, require_binary
from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import Base
from clickphone.db.session import Database
from clickphone.media.rtpengine import (
    RtpengineMediaController,
    RtpengineProcess,
    _free_udp_port,
    start_rtpengine,
)
from clickphone.sipserver import SipServer, SipServerConfig
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.pbx import DEFAULT_EXTS, REALM, Pbx, provision

pytestmark = pytest.mark.interop

LOCAL = "127.0.0.1"


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[tuple[Pbx, RtpengineProcess]]:
    require(pjsua2_available(), "pjsua2-python")
    binary = require_binary("rtpengine")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'pbx.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with database.transaction() as session:
        await provision(session, DEFAULT_EXTS)
    ng_port = _free_udp_port(LOCAL)
    media = await RtpengineMediaController.connect(LOCAL, ng_port, dtmf_listen=(LOCAL, 0))
    base = random.randrange(10000, 19900, 100)
    engine = await start_rtpengine(
        binary=binary,
        ng_port=ng_port,
        port_min=base,
        port_max=base + 99,
        dtmf_log_dest=media.events_address,
        threads=1,
        log_path=str(tmp_path / "rtpengine.log"),
    )
    bus = EventBus()
    server = SipServer(
        SipServerConfig(
            host=LOCAL,
            port=0,
            tcp=False,
            realm=REALM,
            secret=b"test-secret-for-digest-nonces",
            advertised_host=LOCAL,
            media_ip=LOCAL,
        ),
        database,
        media,
        bus=bus,
    )
    host, port = await server.start()
    p = Pbx(server, database, media, bus, host, port, {e.extension: e for e in DEFAULT_EXTS})  # type: ignore[arg-type]

    async def record(event: Event) -> None:
        p.events.append(event)

    bus.subscribe("*", record)
    try:
        yield p, engine
    finally:
        await server.stop()
        await media.close()
        await database.dispose()
        await engine.stop()


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


async def test_call_audio_and_dtmf_through_rtpengine(
    pbx: tuple[Pbx, RtpengineProcess], tmp_path: Path
) -> None:
    p, _ = pbx
    media = p.media
    assert isinstance(media, RtpengineMediaController)
    caller = await phone(p, tmp_path, "101", tone=1000.0, record=True)
    callee = await phone(p, tmp_path, "102", tone=1500.0, record=True, auto_answer=200)
    try:
        for ph in (caller, callee):
            ph.send("register")
            assert (await wait(ph, "reg"))["code"] == 200
        caller.send("call", uri=f"sip:102@{p.hostport}")
        await wait(callee, "incoming")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(caller, "media")
        await asyncio.sleep(1.5)
        # the session lives in rtpengine, which relays both directions
        listed = await media.ng.request("list")
        [call_id] = listed["calls"]
        stats = await media.query(call_id)
        assert len(stats.legs) == 2
        assert all(leg.packets_in > 20 for leg in stats.legs), stats
        caller.send("dtmf", digits="5")
        await wait(callee, "dtmf", lambda e: e["digit"] == "5")
        await asyncio.sleep(0.5)
        caller.send("hangup")
        await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)
    assert caller.record_path is not None and callee.record_path is not None
    assert heard_power(callee.record_path, 1000.0) > 20 * heard_power(callee.record_path, 1500.0)
    assert heard_power(caller.record_path, 1500.0) > 20 * heard_power(caller.record_path, 1000.0)
    # rtpengine's DTMF log reached the B2BUA as a call.dtmf event
    for _ in range(20):
        if p.events_of("call.dtmf"):
            break
        await asyncio.sleep(0.1)
    assert [e.payload["digit"] for e in p.events_of("call.dtmf")] == ["5"]
    assert (await media.ng.request("list"))["calls"] == []  # BYE deleted the session
