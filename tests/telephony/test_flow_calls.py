"""Call flows at runtime, with real pjsua2 phones on loopback: the caller hears the greeting,
presses a key and reaches the right extension; forward-after-X-seconds timing; ring
strategies across calls; voicemail saved and mailed to an SMTP server; a looping flow cut."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from _peers import require
from clickphone.bus.bus import EventBus
from clickphone.calls.flowroute import install_flows
from clickphone.calls.originate import CallbackOriginator, OriginateError
from clickphone.db.models import Department, Employee, Notification, Voicemail
from clickphone.flows.forwarding import ForwardingRules, ForwardingStep, forwarding_graph
from clickphone.flows.model import Duration, FlowGraph
from clickphone.sipserver import SipServer
from interop.pjua import PjPhone, heard_power, pjsua2_available
from telephony.flowfakes import FakeFlows, tone_wav
from telephony.pbx import Pbx, start_pbx, stop_pbx

pytestmark = pytest.mark.interop


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class Env:
    pbx: Pbx
    flows: FakeFlows
    inbox: Inbox
    tmp: Path

    async def employee_id(self, ext: str) -> int:
        async with self.pbx.database.session() as s:
            return int(
                (await s.execute(select(Employee.id).where(Employee.extension == ext))).scalar_one()
            )

    def graph(self, nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]]) -> FlowGraph:
        return FlowGraph.model_validate(
            {
                "nodes": nodes,
                "edges": [{"source": s, "output": o, "target": t} for s, o, t in edges],
            }
        )


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    require(pjsua2_available(), "pjsua2-python")
    flows = FakeFlows(tmp_path)
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()

    async def mailer(msg: EmailMessage) -> None:
        await aiosmtplib.send(msg, hostname="127.0.0.1", port=port, start_tls=False)

    def before_start(server: SipServer, bus: EventBus) -> None:
        install_flows(
            server,
            flows,
            data_dir=tmp_path / "data",
            bus=bus,
            mailer=mailer,
            mail_from="pbx@acme.test",
        )

    pbx = await start_pbx(tmp_path, before_start=before_start)
    try:
        yield Env(pbx, flows, inbox, tmp_path)
    finally:
        await stop_pbx(pbx)
        smtp.stop()


async def phone(env: Env, ext: str, **kw: Any) -> PjPhone:
    e = env.pbx.exts[ext]
    p = await asyncio.to_thread(
        PjPhone,
        registrar=env.pbx.hostport,
        user=e.username,
        password=e.password,
        workdir=env.tmp,
        name=f"ext{ext}",
        **kw,
    )
    p.send("register")
    reg = await asyncio.to_thread(p.wait_for, "reg", lambda e: True, 10.0)
    assert reg["code"] == 200
    return p


async def wait(
    p: PjPhone, event: str, pred: Callable[[dict[str, Any]], bool] = lambda e: True, t: float = 10
) -> dict[str, Any]:
    return await asyncio.to_thread(p.wait_for, event, pred, t)


async def close(*phones: PjPhone) -> None:
    for p in phones:
        await asyncio.to_thread(p.close)


def ended(env: Env) -> list[dict[str, Any]]:
    return [e.payload for e in env.pbx.events_of("call.ended")]


async def until(cond: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_ivr_greeting_heard_digit_reaches_the_right_extension(env: Env) -> None:
    env.flows.prompts["menu"] = tone_wav(env.tmp / "menu.wav", 700.0, 6.0)
    dave = await env.employee_id("104")
    bob, carol = await env.employee_id("102"), await env.employee_id("103")
    env.flows.flows[("employee", dave)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {
                "id": "menu",
                "type": "ivr_menu",
                "prompt": {"audio": "menu"},
                "choices": [{"digit": "1", "output": "sales"}, {"digit": "2", "output": "help"}],
                "timeout": 5,
            },
            {"id": "sales", "type": "ring_group", "employee_ids": [bob]},
            {"id": "help", "type": "ring_group", "employee_ids": [carol]},
            {"id": "bye", "type": "hangup"},
        ],
        [
            ("start", "next", "menu"),
            ("menu", "sales", "sales"),
            ("menu", "help", "help"),
            ("sales", "no_answer", "bye"),
            ("help", "no_answer", "bye"),
        ],
    )
    caller = await phone(env, "101", tone=1000.0, record=True)
    b = await phone(env, "102", auto_answer=200)
    c = await phone(env, "103", tone=1500.0, record=True, auto_answer=200)
    try:
        caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(2.0)  # the greeting plays
        caller.send("dtmf", digits="2")
        await wait(c, "incoming")
        await wait(c, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(2.0)  # both talk
        live = env.pbx.server.calls.active_calls() if env.pbx.server.calls else []
        assert [x["state"] for x in live] == ["answered"]
        caller.send("hangup")
        await wait(c, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(caller, b, c)
    assert not [e for e in b.history if e.get("event") == "incoming"], "sales must not ring"
    assert caller.record_path is not None and c.record_path is not None
    greeting = heard_power(caller.record_path, 700.0)
    assert greeting > 20 * heard_power(caller.record_path, 2300.0)  # the greeting was heard
    assert heard_power(caller.record_path, 1500.0) > 20 * heard_power(caller.record_path, 2300.0)
    assert heard_power(c.record_path, 1000.0) > 20 * heard_power(c.record_path, 700.0)
    await until(lambda: len(ended(env)) == 1)
    [end] = ended(env)
    assert end["outcome"] == "answered"
    [record] = await env.pbx.records()
    steps = [(t.get("step"), t.get("node"), t.get("output")) for t in record.trace]
    assert ("node", "menu", "help") in steps
    assert ("node", "start", "next") in steps


async def test_forward_after_x_seconds_and_ring_strategies(env: Env) -> None:
    bob, carol = await env.employee_id("102"), await env.employee_id("103")
    dave = await env.employee_id("104")
    # dave's personal forwarding: his own phone rings 3 s, then the call goes to extension 103
    rules = ForwardingRules(
        enabled=True,
        steps=(ForwardingStep(destination="103", delay=Duration(value=3, unit="seconds")),),
    )
    env.flows.forwarding[dave] = forwarding_graph(rules, "104", employee_id=dave)
    caller = await phone(env, "101")
    b = await phone(env, "104")  # dave's own phone rings, never answers
    c = await phone(env, "103", auto_answer=200)
    try:
        caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
        await wait(b, "incoming")
        t_bob = time.monotonic()
        await wait(c, "incoming", t=15)
        waited = time.monotonic() - t_bob
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        assert 2.5 <= waited <= 4.5, waited
        await wait(b, "call_state", lambda e: e["state"] == "DISCONNECTED")  # cancelled
        caller.send("hangup")
        await wait(c, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(caller, b, c)
    await until(lambda: len(ended(env)) == 1)
    assert ended(env)[0]["outcome"] == "answered"

    # round robin over bob and carol: each new call starts with the next member
    env.flows.forwarding.clear()
    env.flows.flows[("employee", dave)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {
                "id": "team",
                "type": "ring_group",
                "employee_ids": [bob, carol],
                "strategy": "round_robin",
                "ring_time": {"value": 5, "unit": "seconds"},
            },
        ],
        [("start", "next", "team")],
    )
    caller = await phone(env, "101")
    b = await phone(env, "102", auto_answer=200)
    c = await phone(env, "103", auto_answer=200)
    answered_by: list[str] = []
    try:
        for _ in range(3):
            caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
            await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
            await asyncio.sleep(0.3)
            calls = env.pbx.server.calls
            assert calls is not None
            [live] = list(calls.calls.values())
            assert live.winner is not None
            answered_by.append(live.winner.device)
            caller.send("hangup")
            await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
            await until(lambda calls=calls: not calls.calls)
    finally:
        await close(caller, b, c)
    assert answered_by == ["bob102", "carol103", "bob102"]


async def test_department_number_rings_members_and_voicemail_is_mailed(env: Env) -> None:
    async with env.pbx.database.transaction() as s:
        dept = Department(tenant_id=1, name="Support", extension="500")
        s.add(dept)
        await s.flush()
        for ext in ("102", "103"):
            emp = (await s.execute(select(Employee).where(Employee.extension == ext))).scalar_one()
            emp.department_id = dept.id
        dept_id = dept.id
    caller = await phone(env, "101")
    c = await phone(env, "103", auto_answer=200)  # bob is not registered
    try:
        caller.send("call", uri=f"sip:500@{env.pbx.hostport}")
        await wait(c, "incoming")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        caller.send("hangup")
        await wait(c, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(caller, c)
    await until(lambda: len(ended(env)) == 1)

    # nobody in the department answers: voicemail records the caller and mails it
    env.flows.flows[("department", dept_id)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {
                "id": "team",
                "type": "ring_group",
                "department_id": dept_id,
                "ring_time": {"value": 2, "unit": "seconds"},
            },
            {
                "id": "vm",
                "type": "voicemail",
                "notify_email": True,
                "emails": ["support@acme.test"],
            },
        ],
        [("start", "next", "team"), ("team", "no_answer", "vm")],
    )
    caller = await phone(env, "101", tone=1000.0)
    c = await phone(env, "103")  # rings, never answers
    try:
        caller.send("call", uri=f"sip:500@{env.pbx.hostport}")
        await wait(c, "incoming")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED", t=15)
        await asyncio.sleep(4.0)  # greeting (1 s), beep, then ~2.5 s of message
        caller.send("hangup")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(caller, c)
    await until(lambda: len(ended(env)) == 2 and len(env.inbox.messages) == 1, 15)
    assert ended(env)[1]["outcome"] == "missed"
    saved = env.pbx.events_of("voicemail.saved")
    assert len(saved) == 1 and saved[0].payload["seconds"] >= 1.0
    [mail] = env.inbox.messages
    assert mail["To"] == "support@acme.test"
    assert "Voicemail" in str(mail["Subject"])
    [attachment] = [p for p in mail.walk() if p.get_content_type() == "audio/wav"]
    audio = env.tmp / "mailed.wav"
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    audio.write_bytes(payload)
    assert heard_power(audio, 1000.0) > 20 * heard_power(audio, 2300.0)
    # ... and it is in the company's voicemail inbox, the same audio, with a notification
    async with env.pbx.database.session() as s:
        [vm] = (await s.execute(select(Voicemail))).scalars().all()
        notes = (await s.execute(select(Notification))).scalars().all()
        # the department's members hear of it (102 and 103)
        members = set(
            (
                await s.execute(select(Employee.user_id).where(Employee.department_id == dept_id))
            ).scalars()
        )
    assert (vm.tenant_id, vm.owner_employee_id, vm.department_id) == (1, None, dept_id)
    assert vm.id == ended(env)[1]["id"] and vm.seconds >= 1.0
    assert (env.tmp / "data" / vm.path).read_bytes() == payload
    assert {n.user_id for n in notes} >= members and len(members) == 2
    assert {n.kind for n in notes} == {"voicemail.received"}


async def test_a_looping_flow_is_cut_with_a_hangup_and_an_event(env: Env) -> None:
    env.flows.prompts["short"] = tone_wav(env.tmp / "short.wav", 600.0, 0.2)
    dave = await env.employee_id("104")
    env.flows.flows[("employee", dave)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {"id": "a", "type": "play", "prompt": {"audio": "short"}},
            {"id": "b", "type": "play", "prompt": {"audio": "short"}},
        ],
        [("start", "next", "a"), ("a", "next", "b"), ("b", "next", "a")],
    )
    caller = await phone(env, "101")
    try:
        caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED", t=30)
    finally:
        await close(caller)
    await until(lambda: len(ended(env)) == 1)
    cut = env.pbx.events_of("call.flow_loop_cut")
    assert len(cut) == 1
    [record] = await env.pbx.records()
    assert any(t.get("kind") == "loop_cut" for t in record.trace)


async def test_click_to_call_rings_the_employee_then_the_visitor_and_bridges(env: Env) -> None:
    originator = CallbackOriginator(lambda: env.pbx.server)
    bob = await env.employee_id("102")
    employee = await phone(env, "102", tone=1500.0, record=True, auto_answer=200)
    visitor = await phone(env, "103", tone=1000.0, record=True, auto_answer=200)
    try:
        call_id = await originator.call_back(
            tenant_id=1, employee_id=bob, department_id=None, number_e164="103", source="site"
        )
        incoming = await wait(employee, "incoming")
        assert "103" in str(incoming)  # the employee sees whom the call-back is for
        await wait(employee, "call_state", lambda e: e["state"] == "CONFIRMED")
        await wait(visitor, "incoming", t=15)
        await wait(visitor, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(2.0)
        calls = env.pbx.server.calls
        assert calls is not None and [c["id"] for c in calls.active_calls()] == [call_id]
        visitor.send("hangup")
        await wait(employee, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(employee, visitor)
    assert employee.record_path is not None and visitor.record_path is not None
    assert heard_power(employee.record_path, 1000.0) > 20 * heard_power(
        employee.record_path, 2300.0
    )
    assert heard_power(visitor.record_path, 1500.0) > 20 * heard_power(visitor.record_path, 2300.0)
    await until(lambda: len(ended(env)) == 1)
    [end] = ended(env)
    assert end["outcome"] == "answered" and end["id"] == call_id
    [record] = await env.pbx.records()
    assert record.callee == "103" and record.direction == "internal"


async def test_click_to_call_nobody_free_is_refused(env: Env) -> None:
    originator = CallbackOriginator(lambda: env.pbx.server)
    bob = await env.employee_id("102")  # no phone registered
    with pytest.raises(OriginateError):
        await originator.call_back(
            tenant_id=1, employee_id=bob, department_id=None, number_e164="103", source="site"
        )


async def test_queue_holds_the_caller_with_music_until_an_agent_is_free(env: Env) -> None:
    bob = await env.employee_id("102")
    dave = await env.employee_id("104")
    env.flows.flows[("employee", dave)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {
                "id": "line",
                "type": "queue",
                "employee_ids": [bob],
                "announce_position": True,
                "max_wait": 30,
            },
            {"id": "bye", "type": "hangup"},
        ],
        [("start", "next", "line"), ("line", "overflow", "bye")],
    )
    caller = await phone(env, "101", record=True)
    agent: PjPhone | None = None
    try:
        caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(3.0)  # the position announcement, then music: no agent yet
        agent = await phone(env, "102", tone=1500.0, auto_answer=200)
        await wait(agent, "incoming", t=10)
        await wait(agent, "call_state", lambda e: e["state"] == "CONFIRMED")
        await asyncio.sleep(1.5)
        caller.send("hangup")
        await wait(agent, "call_state", lambda e: e["state"] == "DISCONNECTED")
    finally:
        await close(caller, *([agent] if agent else []))
    assert caller.record_path is not None
    assert heard_power(caller.record_path, 500.0) > 20 * heard_power(caller.record_path, 2300.0)
    assert heard_power(caller.record_path, 1500.0) > 20 * heard_power(caller.record_path, 2300.0)
    await until(lambda: len(ended(env)) == 1)
    assert ended(env)[0]["outcome"] == "answered"
    [record] = await env.pbx.records()
    steps = [t.get("step") for t in record.trace]
    assert "queue" in steps and "queue_answered" in steps


async def test_queue_overflows_after_the_maximum_wait(env: Env) -> None:
    dave = await env.employee_id("104")
    bob = await env.employee_id("102")
    env.flows.flows[("employee", dave)] = env.graph(
        [
            {"id": "start", "type": "start"},
            {"id": "line", "type": "queue", "employee_ids": [bob], "max_wait": 3},
            {"id": "bye", "type": "hangup"},
        ],
        [("start", "next", "line"), ("line", "overflow", "bye")],
    )
    caller = await phone(env, "101")
    try:
        caller.send("call", uri=f"sip:104@{env.pbx.hostport}")
        await wait(caller, "call_state", lambda e: e["state"] == "CONFIRMED")
        t0 = time.monotonic()
        await wait(caller, "call_state", lambda e: e["state"] == "DISCONNECTED", t=15)
        assert 2.5 <= time.monotonic() - t0 <= 6.0
    finally:
        await close(caller)
    await until(lambda: len(ended(env)) == 1)
    [record] = await env.pbx.records()
    assert ("node", "line", "overflow") in [
        (t.get("step"), t.get("node"), t.get("output")) for t in record.trace
    ]
