"""ClickPhone against carriers on loopback: registration with digest auth and refresh,
OPTIONS health, inbound calls to a DID, outbound calls with E.164, caller ID and a 407
challenge, failover on 503, and the toll-fraud guard. Phones are real pjsua2 softphones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from _peers import require
from interop.pjua import PjPhone, pjsua2_available
from trunks.carrier import Carrier, from_user
from trunks.pstn_pbx import CALLER_ID, DID, PstnPbx, start_pstn_pbx, stop_pstn_pbx

pytestmark = pytest.mark.interop


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[PstnPbx]:
    p = await start_pstn_pbx(tmp_path)
    yield p
    await stop_pstn_pbx(p)


@pytest.fixture
async def carrier() -> AsyncIterator[Carrier]:
    c = await Carrier(ip="127.0.0.2", register_expires=2).start()
    yield c
    c.close()


async def eventually(check: Callable[[], Any], timeout: float = 8.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def registration_trunk(pbx: PstnPbx, carrier: Carrier, **extra: Any) -> int:
    fields: dict[str, Any] = {
        "name": "carrier-a",
        "kind": "registration",
        "host": carrier.ip,
        "port": carrier.port,
        "username": carrier.username,
        "password": carrier.password,
        "from_domain": carrier.realm,
        "register_expires": 60,
        "options_interval": 1,
        "priority": 10,
    }
    fields.update(extra)
    return await pbx.add_trunk(**fields)


async def test_registers_with_digest_auth_refreshes_and_pings(
    pbx: PstnPbx, carrier: Carrier
) -> None:
    trunk_id = await registration_trunk(pbx, carrier)
    # The carrier grants 2 s: ClickPhone must refresh before that runs out.
    await eventually(lambda: len(carrier.registered) >= 2)
    first = carrier.registers[0]
    assert "Authorization" not in first  # challenged with 401 first ...
    assert all("Authorization" in r for r in carrier.registers[1::2])  # ... then answered
    assert carrier.registered[1] - carrier.registered[0] < 2.0
    state = pbx.pstn.registration.state(trunk_id)
    assert state is not None
    assert state["registration"] == "registered"
    assert state["refreshes"] >= 1
    assert carrier.contact == pbx.address
    await eventually(lambda: carrier.options >= 1)
    await eventually(lambda: pbx.pstn.registration.states[trunk_id].health == "up")
    assert any(e.payload.get("registration") == "registered" for e in pbx.events_of("trunk.state"))


async def test_wrong_password_shows_failed(pbx: PstnPbx, carrier: Carrier) -> None:
    trunk_id = await registration_trunk(pbx, carrier, password="wrong", options_interval=0)
    await eventually(
        lambda: (pbx.pstn.registration.state(trunk_id) or {}).get("registration") == "failed"
    )
    state = pbx.pstn.registration.state(trunk_id)
    assert state is not None and state["last_status"] == 401
    assert pbx.pstn.registration.is_down(trunk_id)


async def test_inbound_unknown_did_and_blocked_caller(pbx: PstnPbx, carrier: Carrier) -> None:
    await registration_trunk(pbx, carrier, options_interval=0)
    _, resp = await carrier.call("74950000000", "79161234567", pbx.address)
    assert resp.status == 404
    _, resp = await carrier.call(DID.lstrip("+"), "89990000000", pbx.address)
    assert resp.status == 403 and resp.reason == "Caller blocked"
    refused = pbx.events_of("call.refused")
    assert refused and refused[-1].payload["reason"] == "caller_blocked"
    assert refused[-1].payload["number"] == DID


async def test_calls_from_phones_are_not_taken_for_the_carrier(
    pbx: PstnPbx, carrier: Carrier
) -> None:
    """A device on another address dialling a DID is not a trunk call (no trunk match)."""
    await registration_trunk(pbx, carrier, options_interval=0)
    spec = await pbx.pstn.registry.for_source("127.0.0.1")
    assert spec is None
    assert await pbx.pstn.registry.for_source(carrier.ip) is not None


async def settled_records(pbx: PstnPbx, count: int) -> list[Any]:
    """The call records once ``count`` of them are written and complete (group commit)."""
    for _ in range(100):
        records = await pbx.records()
        if len(records) == count and all(r.outcome != "in_progress" for r in records):
            return records
        await asyncio.sleep(0.05)
    raise AssertionError(f"call records not settled: {await pbx.records()}")


# -- with real softphones ---------------------------------------------------------------------


async def phone(pbx: PstnPbx, tmp_path: Path, ext: str, **kw: Any) -> PjPhone:
    e = pbx.exts[ext]
    p = await asyncio.to_thread(
        PjPhone,
        registrar=pbx.hostport,
        user=e.username,
        password=e.password,
        workdir=tmp_path,
        name=f"ext{ext}",
        **kw,
    )
    p.send("register")
    reg = await asyncio.to_thread(p.wait_for, "reg")
    assert reg["code"] == 200
    return p


async def wait(p: PjPhone, event: str, pred: Callable[[Any], bool] = lambda e: True) -> Any:
    return await asyncio.to_thread(p.wait_for, event, pred, 10.0)


async def test_inbound_call_to_did_reaches_the_employee(
    pbx: PstnPbx, carrier: Carrier, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    await registration_trunk(pbx, carrier, options_interval=0)
    bob = await phone(pbx, tmp_path, "102", auto_answer=200)
    try:
        # The carrier sends the DID and the caller without "+", as many do.
        call_id, resp = await carrier.call(
            DID.lstrip("+"), "79161234567", pbx.address, caller_name="CARRIER NAME"
        )
        assert resp.status == 200
        incoming = await wait(bob, "incoming")
        assert "+79161234567" in incoming["remote"]
        assert "Ivan Petrov" in incoming["remote"]  # matched to the company's contact
        bye = await carrier.hangup(call_id, pbx.address)
        assert bye.status == 200
        await wait(bob, "call_state", lambda e: e["state"] == "DISCONNECTED")
        await eventually(lambda: not pbx.server.calls or not pbx.server.calls.calls)
        (record,) = await settled_records(pbx, 1)
        assert record.direction == "incoming"
        assert record.caller == "+79161234567"
        assert record.caller_name == "Ivan Petrov"
        assert record.callee == DID
        assert record.callee_employee_id is not None
        assert record.outcome == "answered"
    finally:
        await asyncio.to_thread(bob.close)


async def test_outbound_e164_caller_id_407_and_failover(
    pbx: PstnPbx, carrier: Carrier, tmp_path: Path
) -> None:
    require(pjsua2_available(), "pjsua2-python")
    second = await Carrier(ip="127.0.0.3").start()
    try:
        await registration_trunk(pbx, carrier, options_interval=0)
        await pbx.add_trunk(
            name="carrier-b",
            kind="ip",
            host=second.ip,
            port=second.port,
            username=second.username,
            password=second.password,
            from_domain=second.realm,
            allowed_addresses=[f"{second.ip}/32"],
            options_interval=0,
            priority=20,
        )
        await eventually(lambda: len(carrier.registered) >= 1)
        alice = await phone(pbx, tmp_path, "101")
        try:
            # National format with the tenant's default country (RU) -> +79161234567.
            alice.send("call", uri=f"sip:8(916)123-45-67@{pbx.hostport}")
            await wait(alice, "call_state", lambda e: e["state"] == "CONFIRMED")
            (invite,) = carrier.invites
            assert invite.uri.startswith("sip:+79161234567@")
            assert from_user(invite) == CALLER_ID
            assert "Proxy-Authorization" in invite  # answered the carrier's 407
            assert not second.invites
            alice.send("hangup")
            await wait(alice, "call_state", lambda e: e["state"] == "DISCONNECTED")
            await eventually(lambda: carrier.byes == 1)

            # The first carrier fails with 503: the call goes out through the second one.
            carrier.invite_status = 503
            alice.send("call", uri=f"sip:+79161234567@{pbx.hostport}")
            await wait(alice, "call_state", lambda e: e["state"] == "CONFIRMED")
            assert len(carrier.invites) == 2
            (second_invite,) = second.invites
            assert second_invite.uri.startswith("sip:+79161234567@")
            assert from_user(second_invite) == CALLER_ID
            alice.send("hangup")
            await wait(alice, "call_state", lambda e: e["state"] == "DISCONNECTED")
            await eventually(lambda: second.byes == 1)

            # Toll-fraud guard: another country, and a blocked premium prefix.
            for dialled, reason in (
                ("+12125551234", "country_not_allowed"),
                ("88091234567", "destination_blocked"),
            ):
                alice.send("call", uri=f"sip:{dialled}@{pbx.hostport}")
                ended = await wait(alice, "call_state", lambda e: e["state"] == "DISCONNECTED")
                assert ended["code"] == 403
                assert pbx.events_of("call.refused")[-1].payload["reason"] == reason
            assert len(carrier.invites) == 2 and len(second.invites) == 1

            records = await settled_records(pbx, 4)
            assert [r.direction for r in records] == ["outgoing"] * 4
            assert records[0].callee == "+79161234567"
            assert records[0].outcome == "answered"
            assert records[0].line == CALLER_ID  # went out presenting the company's number
        finally:
            await asyncio.to_thread(alice.close)
    finally:
        second.close()
