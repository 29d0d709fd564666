"""Real softphones (pjsua2, in subprocesses) register with ClickPhone and call each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _peers import require
from clickphone.calls.b2bua import CallSettings
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.pbx import Pbx, start_pbx, stop_pbx

pytestmark = pytest.mark.interop


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    require(pjsua2_available(), "pjsua2-python")
    p = await start_pbx(tmp_path)
    yield p
    await stop_pbx(p)


async def phone(pbx: Pbx, tmp_path: Path, ext: str, **kw: object) -> PjPhone:
    e = pbx.exts[ext]
    return await asyncio.to_thread(
        PjPhone,
        registrar=pbx.hostport,
        user=e.username,
        password=kw.pop("password", e.password),  # type: ignore[arg-type]
        workdir=tmp_path,
        name=f"ext{ext}",
        **kw,  # type: ignore[arg-type]
    )


async def wait(p: PjPhone, event: str, pred=lambda e: True, timeout: float = 10.0) -> dict:
    return await asyncio.to_thread(p.wait_for, event, pred, timeout)


async def registered(p: PjPhone) -> dict:
    p.send("register")
    return await wait(p, "reg")


async def test_register_sha256_and_wrong_password(pbx: Pbx, tmp_path: Path) -> None:
    a = await phone(pbx, tmp_path, "101")
    bad = await phone(pbx, tmp_path, "102", password="wrong-password")
    try:
        ok = await registered(a)
        assert ok["code"] == 200
        assert pbx.server.registrar.lookup("alice101")
        rejected = await registered(bad)
        assert rejected["code"] == 403
        assert not pbx.server.registrar.lookup("bob102")
    finally:
        await asyncio.to_thread(a.close)
        await asyncio.to_thread(bad.close)


async def test_call_two_way_audio_dtmf_and_bye(pbx: Pbx, tmp_path: Path) -> None:
    caller = await phone(pbx, tmp_path, "101", tone=1000.0, record=True)
    callee = await phone(pbx, tmp_path, "102", tone=1500.0, record=True, auto_answer=200)
    try:
        assert (await registered(caller))["code"] == 200
        assert (await registered(callee))["code"] == 200
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        await wait(callee, "incoming")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(caller, "media")
        assert pbx.server.calls is not None
        live = pbx.server.calls.active_calls()
        assert [c["state"] for c in live] == ["answered"]
        await asyncio.sleep(1.5)
        caller.send("dtmf", digits="5")
        await wait(callee, "dtmf", lambda e: e["digit"] == "5")
        await asyncio.sleep(1.0)
        caller.send("hangup")
        await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)
    # Each side heard the other's tone, not its own.
    assert caller.record_path is not None and callee.record_path is not None
    callee_heard_1000 = heard_power(callee.record_path, 1000.0)
    callee_heard_1500 = heard_power(callee.record_path, 1500.0)
    caller_heard_1500 = heard_power(caller.record_path, 1500.0)
    caller_heard_1000 = heard_power(caller.record_path, 1000.0)
    assert callee_heard_1000 > 20 * callee_heard_1500
    assert caller_heard_1500 > 20 * caller_heard_1000
    dtmf = pbx.events_of("call.dtmf")
    assert [e.payload["digit"] for e in dtmf] == ["5"]
    ended = pbx.events_of("call.ended")
    assert len(ended) == 1 and ended[0].payload["reason"] == "hangup by caller"
    assert pbx.server.calls is not None and pbx.server.calls.active_calls() == []


async def test_register_md5_only_device(pbx: Pbx, tmp_path: Path) -> None:
    carol = await phone(pbx, tmp_path, "103")
    try:
        assert (await registered(carol))["code"] == 200
        [binding] = pbx.server.registrar.lookup("carol103")
        assert binding.user_agent == "pjsua2-interop"
        carol.send("unregister")
        await wait(carol, "reg", lambda e: e["code"] == 200)
        assert pbx.server.registrar.lookup("carol103") == []
    finally:
        await asyncio.to_thread(carol.close)


async def test_bye_from_callee_over_tcp(pbx: Pbx, tmp_path: Path) -> None:
    caller = await phone(pbx, tmp_path, "101", transport="tcp")
    callee = await phone(pbx, tmp_path, "102", transport="tcp", auto_answer=200)
    try:
        assert (await registered(caller))["code"] == 200
        assert (await registered(callee))["code"] == 200
        [binding] = pbx.server.registrar.lookup("bob102")
        assert binding.peer.transport == "TCP"
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(0.5)
        callee.send("hangup")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
        await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)
    ended = pbx.events_of("call.ended")
    assert [e.payload["reason"] for e in ended] == ["hangup by callee"]


async def test_cancel_while_ringing(pbx: Pbx, tmp_path: Path) -> None:
    caller = await phone(pbx, tmp_path, "101")
    callee = await phone(pbx, tmp_path, "102", auto_answer=180)
    try:
        assert (await registered(caller))["code"] == 200
        assert (await registered(callee))["code"] == 200
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "EARLY" and e["code"] == 180)
        assert [c["state"] for c in pbx.server.calls.active_calls()] == ["ringing"]  # type: ignore[union-attr]
        caller.send("hangup")  # CANCEL while ringing
        ended = await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
        assert ended["code"] == 487
        gone = await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
        assert gone["code"] == 487
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)
    assert [e.payload["reason"] for e in pbx.events_of("call.ended")] == ["cancelled"]
    [record] = await pbx.records()
    assert record.outcome == "cancelled" and record.talk_seconds == 0.0
    assert "ringing" in [s["step"] for s in record.trace]


@pytest.mark.parametrize(
    ("dial", "answer", "expected", "outcome"),
    [("102", 486, 486, "busy"), ("999", 0, 404, None), ("104", 0, 480, "missed")],
    ids=["busy", "unknown-number", "not-registered"],
)
async def test_call_failures(
    pbx: Pbx, tmp_path: Path, dial: str, answer: int, expected: int, outcome: str | None
) -> None:
    caller = await phone(pbx, tmp_path, "101")
    callee = await phone(pbx, tmp_path, "102", auto_answer=answer) if answer else None
    try:
        assert (await registered(caller))["code"] == 200
        if callee is not None:
            assert (await registered(callee))["code"] == 200
        caller.send("call", uri=f"sip:{dial}@{pbx.hostport}")
        ended = await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
        assert ended["code"] == expected
    finally:
        await asyncio.to_thread(caller.close)
        if callee is not None:
            await asyncio.to_thread(callee.close)
    assert pbx.server.calls is not None and pbx.server.calls.active_calls() == []
    # An unknown number is no call to log; the others are logged with their outcome.
    assert [r.outcome for r in await pbx.records()] == ([outcome] if outcome else [])


async def test_hold_resume_and_update(pbx: Pbx, tmp_path: Path) -> None:
    """re-INVITE (hold, resume) and UPDATE cross the B2BUA with their SDP re-anchored."""
    caller = await phone(pbx, tmp_path, "101", tone=1000.0)
    callee = await phone(pbx, tmp_path, "102", auto_answer=200)
    try:
        assert (await registered(caller))["code"] == 200
        assert (await registered(callee))["code"] == 200
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(callee, "media", lambda e: e["active"])
        caller.send("hold")
        # PJSUA_CALL_MEDIA_REMOTE_HOLD (3): the callee sees the caller's hold.
        await wait(callee, "media", lambda e: e.get("status") == 3)
        caller.send("unhold")
        await wait(callee, "media", lambda e: e["active"])
        callee.send("update")
        await wait(caller, "media", lambda e: e["active"])
        assert pbx.server.calls is not None
        [live] = pbx.server.calls.active_calls()
        assert live["state"] == "answered"
        caller.send("hangup")
        await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)


async def _answered_call(pbx: Pbx, tmp_path: Path) -> tuple[PjPhone, PjPhone]:
    caller = await phone(pbx, tmp_path, "101")
    callee = await phone(pbx, tmp_path, "102", auto_answer=200)
    assert (await registered(caller))["code"] == 200
    assert (await registered(callee))["code"] == 200
    caller.send("call", uri=f"sip:102@{pbx.hostport}")
    await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
    return caller, callee


async def _wait_ended(pbx: Pbx, timeout: float) -> str:
    for _ in range(int(timeout * 10)):
        ended = pbx.events_of("call.ended")
        if ended:
            return str(ended[0].payload["reason"])
        await asyncio.sleep(0.1)
    raise AssertionError("call did not end")


async def test_dead_call_ends_by_rtp_timeout(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    pbx = await start_pbx(tmp_path, rtp_timeout=2.0)
    try:
        caller, callee = await _answered_call(pbx, tmp_path)
        await asyncio.sleep(0.5)
        for p in (caller, callee):  # both phones vanish without a BYE
            p.proc.kill()
            p.proc.wait(timeout=5)
            await asyncio.to_thread(p.close)
        assert await _wait_ended(pbx, 8.0) == "rtp timeout"
        assert pbx.server.calls is not None and pbx.server.calls.active_calls() == []
    finally:
        await stop_pbx(pbx)


async def test_maximum_call_duration(tmp_path: Path) -> None:
    require(pjsua2_available(), "pjsua2-python")
    pbx = await start_pbx(tmp_path, call_settings=CallSettings(max_duration=1.5))
    try:
        caller, callee = await _answered_call(pbx, tmp_path)
        try:
            gone = await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED", 6)
            assert gone["code"] in (200, 0)
            await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED", 6)
        finally:
            await asyncio.to_thread(caller.close)
            await asyncio.to_thread(callee.close)
        assert await _wait_ended(pbx, 2.0) == "maximum duration"
    finally:
        await stop_pbx(pbx)


async def test_prack_both_legs_and_session_timer(pbx: Pbx, tmp_path: Path) -> None:
    """Caller and callee both require 100rel; the caller asks for a session timer."""
    caller = await phone(pbx, tmp_path, "101", prack=True, session_timer=90)
    callee = await phone(pbx, tmp_path, "102", prack=True, auto_answer=180)
    try:
        assert (await registered(caller))["code"] == 200
        assert (await registered(callee))["code"] == 200
        caller.send("call", uri=f"sip:102@{pbx.hostport}")
        # A reliable 180 reached the caller (it PRACKs it, else pjsua would tear down)
        await wait(caller, "call_state", lambda e: e["state"] == "EARLY" and e["code"] == 180)
        callee.send("answer", code=200)
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        assert pbx.server.calls is not None
        [call] = pbx.server.calls.calls.values()
        assert call.session_expires == 90
        assert call.winner is not None and call.winner.acked_rseq  # we PRACKed the callee
        caller.send("hangup")
        await wait(callee, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await asyncio.to_thread(caller.close)
        await asyncio.to_thread(callee.close)
