"""The call-flow runtime: walks a published flow graph for one live call.

The pure interpreter (:mod:`clickphone.flows.interpreter`) says what to do next; this module
does it through the B2BUA's :class:`~clickphone.calls.b2bua.FlowCall` handle — answer the
caller with ClickPhone's own media, play prompts (uploaded, recorded or text-to-speech),
collect RFC 4733 keys, ring employees by strategy, forward to numbers, hold callers in a
queue with music, record voicemail and mail it — and reports the outcome back as an event.
Every step lands in the call's trace (the call log shows it).

State kept between calls (in memory, per process): the round-robin position of each ring
group and when each employee last answered (least recently called), and the queues.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from clickphone.calls.b2bua import FlowCall
from clickphone.calls.routing import CallOrigin, CallRouter, FlowRoute, Route, Target
from clickphone.calls.tones import ensure_tones
from clickphone.db.models import Employee, User
from clickphone.db.session import Database
from clickphone.flows import interpreter as fi
from clickphone.flows.model import FlowGraph, Prompt
from clickphone.registrar.service import Registrar
from clickphone.registrar.store import DeviceDirectory
from clickphone.voicemail.service import store_voicemail

log = logging.getLogger("clickphone.flows.runtime")

VOICEMAIL_SECONDS = 120.0
FORWARD_RING_SECONDS = 60.0
QUEUE_RING_SECONDS = 20.0
DEFAULT_VOICEMAIL_GREETING = "Please leave a message after the tone."
MEMBERS_TTL = 10.0


class FlowResources(Protocol):
    """What the runtime needs from flow storage (clickphone.flows.resolver.FlowResolver)."""

    async def modules(self, tenant_id: int) -> dict[str, bool]: ...

    def prompt_path(self, tenant_id: int, prompt_id: str) -> Path | None: ...

    async def tts_path(self, text: str, lang: str = "en") -> Path: ...


Mailer = Callable[[EmailMessage], Awaitable[None]]


@dataclass(frozen=True)
class Member:
    employee_id: int
    extension: str


def tts_language(text: str) -> str:
    return "ru" if re.search("[\u0400-\u04ff]", text) else "en"


class FlowEngine:
    """Runs call flows (implements :class:`clickphone.calls.b2bua.FlowRunner`)."""

    def __init__(
        self,
        database: Database,
        resources: FlowResources,
        directory: DeviceDirectory,
        registrar: Registrar,
        *,
        extensions: CallRouter,
        data_dir: Path,
        outbound: CallRouter | None = None,
        mailer: Mailer | None = None,
        mail_from: str = "",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.database = database
        self.resources = resources
        self.directory = directory
        self.registrar = registrar
        self.extensions = extensions
        self.outbound = outbound
        self.mailer = mailer
        self.mail_from = mail_from
        self.data_dir = data_dir
        self.clock = clock
        self.tones = ensure_tones(data_dir / "tones")
        self.round_robin: dict[tuple[int, str], int] = {}
        self.last_answered: dict[int, float] = {}
        self.queues: dict[tuple[int, str], list[str]] = {}
        self._members: dict[tuple[int, tuple[int, ...], int | None], tuple[float, list[Member]]]
        self._members = {}

    # -- the walk ----------------------------------------------------------------------
    async def run(self, fc: FlowCall, route: FlowRoute) -> None:
        call = fc.call
        graph: FlowGraph = route.graph
        modules = await self.resources.modules(call.tenant_id)
        info = fi.CallInfo(caller=call.origin.number, called=call.callee_extension, modules=modules)
        fc.step("flow", kind=route.kind, flow_id=route.flow_id, version=route.version)
        fc.ringing()
        step = fi.start(graph, info, self.clock())
        while True:
            self._trace(fc, step.trace)
            event = await self._perform(fc, route, step.action, step.state)
            if event is None or fc.ended:
                return
            step = fi.advance(step.state, event)

    def _trace(self, fc: FlowCall, entries: Sequence[fi.TraceEntry]) -> None:
        for e in entries:
            details: dict[str, object] = {"node": e.node_id, "type": e.node_type}
            if e.output is not None:
                details["output"] = e.output
            if e.kind != "node":
                details["kind"] = e.kind
            if e.detail:
                details["detail"] = e.detail
            fc.step("node", **details)

    async def _perform(
        self, fc: FlowCall, route: FlowRoute, action: fi.Action, state: fi.FlowState
    ) -> fi.Event | None:
        tenant = fc.call.tenant_id
        if isinstance(action, fi.Play):
            if not await fc.answer():
                return None
            path = await self.prompt(tenant, action.prompt)
            if path is not None and not await fc.play(str(path)):
                return None
            return fi.PromptDone(self.clock())
        if isinstance(action, fi.CollectDigits):
            if not await fc.answer():
                return None
            fc.clear_keys()  # keys from before this menu do not count; keys from now on do
            path = await self.prompt(tenant, action.prompt)  # (text-to-speech may take a moment)
            digit = await fc.collect(str(path) if path else None, action.timeout)
            if fc.ended:
                return None
            if digit is None:
                return fi.Timeout(self.clock())
            return fi.Digit(digit, self.clock())
        if isinstance(action, fi.Ring):
            node = state.node_id or ""
            status = await self._ring_group(fc, action, node)
            return self._ring_event(status)
        if isinstance(action, fi.Forward):
            return await self._forward(fc, route, action)
        if isinstance(action, fi.Enqueue):
            return await self._enqueue(fc, action, state.node_id or "")
        if isinstance(action, fi.Voicemail):
            await self._voicemail(fc, route, action)
            return None
        if isinstance(action, fi.Hangup):
            fc.step("flow_hangup", reason=action.reason)
            if action.reason == "loop_cut":
                log.warning("x %s call flow %s looped: cut", fc.call.a_call_id, route.flow_id)
                await fc.publish("call.flow_loop_cut", flow_id=route.flow_id)
            await fc.hangup("flow", 480)
            return None
        return None  # Done: answered or the caller left

    def _ring_event(self, status: int) -> fi.Event | None:
        now = self.clock()
        if status == 200:
            return fi.Answered(now)
        if status == 487:
            return None
        if status == 486:
            return fi.Busy(now)
        return fi.NoAnswer(now)

    # -- prompts -----------------------------------------------------------------------
    async def prompt(self, tenant_id: int, prompt: Prompt) -> Path | None:
        if prompt.audio:
            path = self.resources.prompt_path(tenant_id, prompt.audio)
            if path is not None:
                return path
            log.warning("x prompt %s of tenant %s is missing", prompt.audio, tenant_id)
        if prompt.text and prompt.text.strip():
            try:
                return await self.resources.tts_path(prompt.text, tts_language(prompt.text))
            except Exception:
                log.exception("x text-to-speech failed")
        return None

    # -- ringing -----------------------------------------------------------------------
    async def members(
        self, tenant_id: int, employee_ids: Sequence[int], department_id: int | None
    ) -> list[Member]:
        key = (tenant_id, tuple(employee_ids), department_id)
        now = time.monotonic()
        hit = self._members.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.database.session() as session:
            query = select(Employee.id, Employee.extension).where(
                Employee.tenant_id == tenant_id, Employee.extension.is_not(None)
            )
            if department_id is not None:
                query = query.where(Employee.department_id == department_id)
            else:
                query = query.where(Employee.id.in_(list(employee_ids) or [-1]))
            rows = (await session.execute(query.order_by(Employee.id))).all()
        by_id = {int(r[0]): Member(int(r[0]), str(r[1])) for r in rows}
        if department_id is None:
            found = [by_id[i] for i in employee_ids if i in by_id]  # the order drawn
        else:
            found = list(by_id.values())
        self._members[key] = (now + MEMBERS_TTL, found)
        return found

    async def targets(self, tenant_id: int, member: Member, busy: set[str]) -> list[Target]:
        usernames = await self.directory.usernames_for_extension(tenant_id, member.extension)
        return [
            Target(uri=b.contact, peer=b.peer, device=u)
            for u in usernames or []
            if u not in busy
            for b in self.registrar.lookup(u)
        ]

    def _order(self, members: list[Member], strategy: str, key: tuple[int, str]) -> list[Member]:
        if strategy == "round_robin" and members:
            start = self.round_robin.get(key, 0) % len(members)
            self.round_robin[key] = start + 1
            return members[start:] + members[:start]
        if strategy == "least_recent":
            return sorted(members, key=lambda m: self.last_answered.get(m.employee_id, 0.0))
        return members

    async def _ring_group(self, fc: FlowCall, action: fi.Ring, node_id: str) -> int:
        tenant = fc.call.tenant_id
        members = await self.members(tenant, action.employee_ids, action.department_id)
        ordered = self._order(members, action.strategy, (tenant, node_id))
        busy = fc.busy_devices()
        fc.step("ring_group", strategy=action.strategy, members=[m.extension for m in ordered])
        await self._ringback(fc)
        if action.strategy == "all":
            targets: list[Target] = []
            owner: dict[str, Member] = {}
            for m in ordered:
                for t in await self.targets(tenant, m, busy):
                    targets.append(t)
                    owner[t.device] = m
            if not targets:
                return 486 if ordered else 480
            status = await fc.ring(targets, action.seconds)
            self._answered_by(fc, owner, status)
            return status
        status = 480
        any_free = False
        for m in ordered:
            member_targets = await self.targets(tenant, m, busy)
            if not member_targets:
                continue
            any_free = True
            status = await fc.ring(member_targets, action.seconds)
            self._answered_by(fc, {t.device: m for t in member_targets}, status)
            if status in (200, 487):
                return status
        return status if any_free else (486 if ordered else 480)

    def _answered_by(self, fc: FlowCall, owner: dict[str, Member], status: int) -> None:
        if status != 200:
            return
        winner = fc.call.winner
        member = owner.get(winner.device) if winner is not None else None
        if member is not None:
            self.last_answered[member.employee_id] = time.time()

    async def _ringback(self, fc: FlowCall) -> None:
        """A caller ClickPhone answered hears ringback while phones ring (a caller not
        answered yet hears their own phone's ringing from our 180)."""
        if fc.call.local_answered:
            await fc.play(str(self.tones["ringback"]), loop=True)

    # -- forwarding --------------------------------------------------------------------
    async def _forward(self, fc: FlowCall, route: FlowRoute, action: fi.Forward) -> fi.Event | None:
        call = fc.call
        if action.after_seconds > 0:
            await self._ringback(fc)
            if not await fc.wait(action.after_seconds):
                return None
        origin = CallOrigin(
            tenant_id=call.tenant_id,
            number=call.origin.number,
            name=call.origin.name,
            employee_id=route.owner_employee_id or call.origin.employee_id,
            device="flow",
        )
        found: Route | object | None = await self.extensions.route(
            origin, action.number, call.a_invite
        )
        if found is None and self.outbound is not None:
            found = await self.outbound.route(origin, action.number, call.a_invite)
        if not isinstance(found, Route) or not found.targets:
            status = getattr(found, "status", 404)
            fc.step("forward_failed", number=action.number, status=status)
            return fi.Failed(self.clock()) if status != 480 else fi.NoAnswer(self.clock())
        fc.step("forward", number=action.number, after=action.after_seconds)
        await self._ringback(fc)
        status = await fc.ring(found.targets, FORWARD_RING_SECONDS, sequential=found.sequential)
        if status in (200, 487, 486):
            return self._ring_event(status)
        return fi.NoAnswer(self.clock()) if status == 480 else fi.Failed(self.clock())

    # -- queue -------------------------------------------------------------------------
    async def _enqueue(self, fc: FlowCall, action: fi.Enqueue, node_id: str) -> fi.Event | None:
        call = fc.call
        if not await fc.answer():
            return None
        key = (call.tenant_id, node_id)
        line = self.queues.setdefault(key, [])
        line.append(call.id)
        fc.step("queue", position=len(line))
        deadline = time.monotonic() + action.max_wait
        music = None
        if action.music:
            music = self.resources.prompt_path(call.tenant_id, action.music)
        music_path = str(music or self.tones["music"])
        announced = 0
        try:
            members = await self.members(call.tenant_id, action.employee_ids, action.department_id)
            while not fc.ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    fc.step("queue_timeout")
                    return fi.Timeout(self.clock())
                position = line.index(call.id) + 1
                if action.announce_position and position != announced:
                    announced = position
                    text = f"You are number {position} in the queue."
                    try:
                        speech = await self.resources.tts_path(text, "en")
                    except Exception:
                        log.exception("x position announcement failed")
                    else:
                        await fc.stop()
                        if not await fc.play(str(speech)):
                            return None
                await fc.play(music_path, loop=True)
                if position == 1:
                    busy = fc.busy_devices()
                    targets = [
                        t for m in members for t in await self.targets(call.tenant_id, m, busy)
                    ]
                    if targets:
                        status = await fc.ring(targets, min(QUEUE_RING_SECONDS, remaining))
                        if status == 200:
                            fc.step("queue_answered")
                            return fi.Answered(self.clock())
                        if status == 487:
                            return None
                        continue
                if not await fc.wait(min(2.0, remaining)):
                    return None
            return None
        finally:
            if call.id in line:
                line.remove(call.id)

    # -- voicemail ---------------------------------------------------------------------
    async def _voicemail(self, fc: FlowCall, route: FlowRoute, action: fi.Voicemail) -> None:
        call = fc.call
        if not await fc.answer():
            return
        greeting = await self.prompt(call.tenant_id, action.greeting)
        if greeting is None:
            try:
                greeting = await self.resources.tts_path(DEFAULT_VOICEMAIL_GREETING, "en")
            except Exception:
                log.exception("x voicemail greeting failed")
        if greeting is not None and not await fc.play(str(greeting)):
            return
        if not await fc.play(str(self.tones["beep"])):
            return
        folder = self.data_dir / "voicemail" / str(call.tenant_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{call.id}.wav"
        info = await fc.record(str(path), VOICEMAIL_SECONDS)
        if info is None or info.duration_seconds < 0.5:
            fc.step("voicemail_empty")
            await fc.hangup("voicemail", 480)
            return
        fc.step(
            "voicemail",
            file=str(path.relative_to(self.data_dir)),
            seconds=round(info.duration_seconds, 1),
        )
        await fc.publish(
            "voicemail.saved",
            file=str(path.relative_to(self.data_dir)),
            seconds=round(info.duration_seconds, 1),
        )
        try:  # the inbox in the cabinet, with its notification
            await store_voicemail(
                self.database,
                call_id=call.id,
                tenant_id=call.tenant_id,
                owner_employee_id=route.owner_employee_id,
                caller=call.origin.number,
                caller_name=call.origin.name or "",
                callee=call.callee_extension,
                path=str(path.relative_to(self.data_dir)),
                seconds=info.duration_seconds,
            )
        except Exception:
            log.exception("x voicemail %s could not be stored", call.id)
        if action.notify_email:
            recipients = list(action.emails) or await self._owner_email(route)
            if recipients:
                await self._mail(fc, recipients, path, info.duration_seconds)
        await fc.hangup("voicemail", 480)

    async def _owner_email(self, route: FlowRoute) -> list[str]:
        if route.owner_employee_id is None:
            return []
        async with self.database.session() as session:
            email = (
                await session.execute(
                    select(User.email)
                    .join(Employee, Employee.user_id == User.id)
                    .where(Employee.id == route.owner_employee_id)
                )
            ).scalar_one_or_none()
        return [email] if email else []

    async def _mail(self, fc: FlowCall, to: list[str], path: Path, seconds: float) -> None:
        if self.mailer is None:
            fc.step("voicemail_mail_skipped", reason="no mail server configured")
            return
        call = fc.call
        caller = call.origin.name or call.origin.number
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = ", ".join(to)
        msg["Subject"] = f"Voicemail from {caller} ({round(seconds)} s)"
        msg.set_content(
            f"{caller} ({call.origin.number}) left you a voicemail of {round(seconds)} seconds"
            f" on {call.callee_extension}. The recording is attached."
        )
        audio = await asyncio.to_thread(path.read_bytes)
        msg.add_attachment(
            audio, maintype="audio", subtype="wav", filename=f"voicemail-{call.id}.wav"
        )
        try:
            await self.mailer(msg)
        except Exception as exc:
            log.warning("x voicemail mail failed: %r", exc)
            fc.step("voicemail_mail_failed")
            return
        fc.step("voicemail_mailed", to=len(to))


__all__ = ["FlowEngine", "FlowResources", "Member", "tts_language"]
