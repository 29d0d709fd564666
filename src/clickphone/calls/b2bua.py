"""The B2BUA: calls between extensions, every call anchored through the media plane.

Leg A is the caller's dialog (we are its UAS); leg B is the callee's (we are its UAC). An
INVITE to an extension forks to every registered contact of the callee's devices (one
independent B-side INVITE each); the first 2xx wins and the other forks are cancelled (a late
2xx is ACKed and BYEd). Provisional responses are relayed to A; BYE from either side ends
both; re-INVITE and UPDATE are passed across with their SDP re-anchored (hold/resume, codec
change). Dead calls end by an RTP timeout (from the media plane), by an RFC 4028 session
timer on leg A when the caller asks for one, and by a maximum call duration.

Every log line carries the A-leg Call-ID.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.calls.records import CallRecorder
from clickphone.calls.routing import (
    CallOrigin,
    CallRouter,
    FlowRoute,
    Route,
    RouteFailure,
    Target,
    dialled_number,
)
from clickphone.media.control import (
    DtmfEvent,
    MediaController,
    MediaError,
    RecordingInfo,
    RtpTimeoutEvent,
)
from clickphone.registrar.auth import uri_user
from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.dialog import Dialog, dialog_id_of, make_cancel, new_tag
from clickphone.sip.errors import SipError
from clickphone.sip.message import NameAddr, SipRequest, SipResponse, make_response
from clickphone.sip.transaction import (
    AckReceived,
    AckTimeout,
    CancelReceived,
    ClientTransaction,
    Event,
    Peer,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    StrayResponse,
    TransactionTimeout,
    TransportFailure,
    new_branch,
)
from clickphone.transport.endpoint import SipEndpoint
from clickphone.trunks.codecs import restrict_codecs

log = logging.getLogger("clickphone.calls")

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, REGISTER"
SUPPORTED = "timer, 100rel, replaces"
RELAYED_RESPONSE_STATUSES = {180, 181, 182, 183}
FAILOVER_STATUSES = {408, 500, 502, 503, 504}
FAILURE_REASONS = {480: "not registered", 486: "busy", 403: "forbidden", 404: "unknown number"}


@dataclass
class CallSettings:
    ring_timeout: float = 60.0
    max_duration: float = 4 * 3600.0
    min_session_expires: int = 90
    default_session_expires: int = 1800
    user_agent: str = "ClickPhone"


@dataclass
class Fork:
    """One outgoing INVITE to one contact of the callee."""

    invite: SipRequest
    peer: Peer
    target: Target
    tx: ClientTransaction | None = None
    dialog: Dialog | None = None
    status: int = 0
    cancelled: bool = False
    acked_rseq: set[int] = field(default_factory=set)
    auth_tries: int = 0
    ringing_logged: bool = False  # its "ringing" step is in the trace

    @property
    def device(self) -> str:
        return self.target.device


@dataclass
class Call:
    id: str
    a_call_id: str
    tenant_id: int
    origin: CallOrigin
    callee_extension: str
    a_invite: SipRequest
    a_tx: ServerTransaction
    a_peer: Peer
    a_tag: str  # our To tag towards A
    media_ip: str
    state: str = "trying"  # trying, ringing, answered, ended
    started_at: float = field(default_factory=time.time)
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""
    forks: list[Fork] = field(default_factory=list)
    winner: Fork | None = None
    a_dialog: Dialog | None = None
    a_rseq: int = 0
    session_expires: int | None = None
    session_deadline: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    # an in-flight re-INVITE/UPDATE relayed from one leg to the other
    pending: dict[ClientTransaction, tuple[ServerTransaction, str]] = field(default_factory=dict)
    callee_employee_id: int | None = None
    direction: str = "internal"
    trace: list[dict[str, Any]] = field(default_factory=list)
    recorded: bool = False
    line: str | None = None  # our number the call came in on / went out through (statistics)
    # sequential routes (trunk failover): targets not tried yet, and the SDP they get
    waiting: list[Target] = field(default_factory=list)
    b_sdp: bytes = b""
    # call flows: the runtime's task, the caller's leg answered by ClickPhone itself (IVR,
    # greeting, voicemail) and the state of the current ring attempt
    flow: FlowRoute | None = None
    flow_task: asyncio.Task[Any] | None = None
    local_answered: bool = False
    local_sdp: bytes = b""
    b_leg: str = ""  # media leg name of the B side when the relay offers it
    ring_round: list[Fork] = field(default_factory=list)
    ring_result: asyncio.Future[int] | None = None
    digits: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    play_waiter: tuple[str, asyncio.Future[None]] | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # set when the call ended
    keep_flow: bool = False  # the caller's hang-up ends a voicemail: the flow saves it
    caller_left: asyncio.Event = field(default_factory=asyncio.Event)

    def step(self, what: str, **details: Any) -> None:
        """Append a step to the call's trace (shown in the call log)."""
        self.trace.append({"at": round(time.time(), 3), "step": what, **details})

    @property
    def a_from_tag(self) -> str:
        return self.a_invite.from_.tag or ""

    def as_dict(self) -> dict[str, Any]:
        def iso(ts: float | None) -> str | None:
            return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None

        return {
            "id": self.id,
            "sip_call_id": self.a_call_id,  # the media session's name (recording, stats)
            "tenant_id": self.tenant_id,
            "caller": self.origin.number,
            "caller_name": self.origin.name,
            "direction": self.direction,
            "callee": self.callee_extension,
            "state": self.state,
            "started_at": iso(self.started_at),
            "answered_at": iso(self.answered_at),
        }


class CallManager:
    """Handles every INVITE-related request and owns the live calls."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        router: CallRouter,
        media: MediaController,
        *,
        advertised_host: str,
        media_ip: str,
        bus: EventBus | None = None,
        settings: CallSettings | None = None,
        recorder: CallRecorder | None = None,
        flows: FlowRunner | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.flows = flows
        self.router = router
        self.media = media
        self.advertised_host = advertised_host
        self.media_ip = media_ip
        self.bus = bus
        self.settings = settings or CallSettings()
        self.recorder = recorder
        self.calls: dict[str, Call] = {}
        self._by_dialog: dict[tuple[str, str, str], tuple[Call, str]] = {}
        self._by_a_callid: dict[str, Call] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._media_task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._media_task = asyncio.create_task(self._consume_media_events())

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            await self._hangup_both(call, "shutdown")
        if self._media_task is not None:
            self._media_task.cancel()
            try:
                await self._media_task
            except asyncio.CancelledError:
                pass
        for task in list(self._tasks):
            task.cancel()

    def busy_legs(self) -> list[str]:
        """Names of the legs live calls hold: each answered or still ringing B leg's target
        device (a trunk's name for carrier legs) and each call's origin ``leg_name`` — what
        channel limits count."""
        names: list[str] = []
        for call in self.calls.values():
            if call.state == "ended":
                continue
            if call.origin.leg_name:
                names.append(call.origin.leg_name)
            if call.winner is not None:
                names.append(call.winner.device)
            else:
                names.extend(f.device for f in call.forks if f.status < 200 and not f.cancelled)
        return names

    def active_calls(self, tenant_id: int | None = None) -> list[dict[str, Any]]:
        return [
            c.as_dict()
            for c in self.calls.values()
            if c.state != "ended" and (tenant_id is None or c.tenant_id == tenant_id)
        ]

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("x call task failed", exc_info=task.exception())

    # -- helpers -------------------------------------------------------------------------
    def _local_addr(self, peer: Peer) -> tuple[str, int]:
        local = (
            self.endpoint.transports.local.get(peer.transport)
            or self.endpoint.transports.local["UDP"]
        )
        return self.advertised_host, local[1]

    def _contact(self, peer: Peer) -> str:
        host, port = self._local_addr(peer)
        if peer.transport == "WSS":  # RFC 7118: secure WebSocket is sips with transport=ws
            return f"sips:{host}:{port};transport=ws"
        uri = f"sip:{host}:{port}"
        if peer.transport != "UDP":
            uri += f";transport={peer.transport.lower()}"
        return uri

    def _respond(
        self,
        tx: ServerTransaction,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        extra = list(headers)
        if body:
            extra.append(("Content-Type", "application/sdp"))
        response = make_response(
            request, status, reason, to_tag=to_tag, extra_headers=extra, body=body
        )
        try:
            self.endpoint.send_response(tx, response)
        except SipError as exc:
            log.debug("x cannot answer %s %s: %s", request.method, request.get("Call-ID"), exc)

    async def _publish(self, type_: str, call: Call, **extra: Any) -> None:
        if self.bus is None:
            return
        payload = call.as_dict() | extra
        try:
            await self.bus.publish(BusEvent(type_, payload, tenant_id=call.tenant_id))
        except Exception:
            log.exception("x event publish failed call-id=%s", call.a_call_id)

    # -- entry points from the SIP server ------------------------------------------------
    def handle_event(self, event: Event) -> bool:
        """Handle an event that belongs to calls; return False if it is not ours."""
        if isinstance(event, RequestReceived):
            req = event.request
            if req.method == "INVITE" and not req.to.tag:
                self.spawn(self._new_call(event))
                return True
            if req.to.tag:
                self.spawn(self._in_dialog(event))
                return True
            return False
        if isinstance(event, CancelReceived):
            self.spawn(self._on_cancel(event))
            return True
        if isinstance(event, AckReceived):
            self._on_ack(event)
            return True
        if isinstance(event, AckTimeout):
            call = self._by_a_callid.get(event.tx.request.call_id)
            if call is not None:
                self.spawn(self._hangup_both(call, "no ACK from caller"))
            return True
        if isinstance(event, StrayResponse):
            self._on_stray(event)
            return True
        return False

    # -- new call ------------------------------------------------------------------------
    async def _new_call(self, event: RequestReceived) -> None:
        req, tx, peer = event.request, event.tx, event.peer
        a_tag = new_tag()
        origin = await self.router.identify(req, peer, to_tag=a_tag)
        if origin is None:
            self._respond(tx, req, 403, to_tag=a_tag)
            return
        if isinstance(origin, SipResponse):
            self.endpoint.send_response(tx, origin)
            return
        dialled = dialled_number(req)
        unsupported = [
            opt.strip()
            for opt in req.get_all("Require")
            if opt.strip().lower() not in ("timer", "100rel", "replaces")
        ]
        if unsupported:
            self._respond(
                tx, req, 420, to_tag=a_tag, headers=[("Unsupported", ", ".join(unsupported))]
            )
            return
        if req.content_type != "application/sdp" or not req.body:
            self._respond(tx, req, 488, "SDP offer required", to_tag=a_tag)
            return
        se = self._session_expires(req)
        if isinstance(se, SipResponse):
            self.endpoint.send_response(tx, se)
            return
        route = await self.router.route(origin, dialled, req)
        if route is None:
            self._respond(tx, req, 404, to_tag=a_tag)
            return
        call = Call(
            id=uuid.uuid4().hex,
            a_call_id=req.call_id,
            tenant_id=origin.tenant_id,
            origin=origin,
            callee_extension=route.callee or dialled,
            a_invite=req,
            a_tx=tx,
            a_peer=peer,
            a_tag=a_tag,
            media_ip=self.media_ip,
            session_expires=se,
            callee_employee_id=route.callee_employee_id,
            direction=route.direction,
        )
        call.step("dial", number=dialled, caller=origin.number)
        if isinstance(route, RouteFailure):
            if route.outcome is None:
                self._respond(tx, req, route.status, route.reason, to_tag=a_tag)
                return
            if not await self._record_start(call):
                self._respond(tx, req, 500, "Call log unavailable", to_tag=a_tag)
                return
            call.step("rejected", status=route.status)
            self._respond(tx, req, route.status, route.reason, to_tag=a_tag)
            await self._finish(call, FAILURE_REASONS.get(route.status, "rejected"))
            return
        for step in route.trace:
            call.trace.append(dict(step))
        if isinstance(route, FlowRoute):
            call.flow = route
        call.line = line_of(route)
        if not await self._record_start(call):
            self._respond(tx, req, 500, "Call log unavailable", to_tag=a_tag)
            return
        self.calls[call.id] = call
        self._by_a_callid[call.a_call_id] = call
        log.info(
            "- %s call %s -> %s (%d target(s)%s)",
            call.a_call_id,
            origin.number,
            dialled,
            len(route.targets),
            ", in turn" if route.sequential else "",
        )
        async with call.lock:
            try:
                call.b_sdp = await self.media.offer(
                    call.a_call_id, call.a_from_tag, req.body, media_ip=self.media_ip
                )
            except MediaError as exc:
                log.warning("x %s media offer failed: %s", call.a_call_id, exc)
                self._respond(tx, req, exc.status_hint, str(exc)[:60], to_tag=a_tag)
                await self._finish(call, "media error")
                return
            await self._publish("call.started", call)
            if call.flow is not None:
                if self.flows is None:
                    self._respond(tx, req, 480, "Call flows unavailable", to_tag=a_tag)
                    await self._finish(call, "failed")
                    return
                self._arm(call, self.settings.max_duration, self._max_duration)
                call.flow_task = asyncio.ensure_future(self._run_flow(call))
                return
            targets = list(route.targets)
            if route.sequential:
                call.waiting = targets[1:]
                targets = targets[:1]
            for target in targets:
                self._send_fork(call, target)
            self._arm(call, self.settings.ring_timeout, self._ring_timeout)

    async def _record_start(self, call: Call) -> bool:
        if self.recorder is None:
            return True
        try:
            await self.recorder.started(
                record_id=call.id,
                tenant_id=call.tenant_id,
                sip_call_id=call.a_call_id,
                direction=call.direction,
                caller=call.origin.number,
                caller_name=call.origin.name,
                caller_employee_id=call.origin.employee_id,
                callee=call.callee_extension,
                callee_employee_id=call.callee_employee_id,
                started_at=call.started_at,
                line=call.line,
            )
        except Exception:
            log.exception("x %s cannot write the call record", call.a_call_id)
            return False
        call.recorded = True
        return True

    def _session_expires(self, req: SipRequest) -> int | SipResponse | None:
        value = req.get("Session-Expires")
        if value is None:
            return None
        try:
            se = int(value.split(";", 1)[0].strip())
        except ValueError:
            return make_response(req, 400, "Bad Session-Expires")
        if se < self.settings.min_session_expires:
            return make_response(
                req, 422, extra_headers=[("Min-SE", str(self.settings.min_session_expires))]
            )
        return se

    def _send_fork(self, call: Call, target: Target) -> None:
        call.step("ring", device=target.device, contact=target.uri)
        invite = self._fork_invite(call, target)
        fork = Fork(invite, target.peer, target)
        call.forks.append(fork)
        if call.ring_result is not None:
            call.ring_round.append(fork)
        fork.tx = self.endpoint.send_request(
            invite, target.peer, partial(self._on_fork_event, call, fork)
        )
        if target.setup_timeout is not None:
            self._arm(call, target.setup_timeout, partial(self._setup_timeout, fork))

    def _setup_timeout(self, fork: Fork, call: Call) -> None:
        """The hop has not answered at all (not even 100 Trying): abandon it for the next
        target. A late 2xx from it is ACKed and hung up (the fork counts as cancelled)."""
        if fork.status != 0 or fork.tx is None or fork.tx.last_response is not None:
            return
        if call.state in ("answered", "ended") or fork.cancelled:
            return
        fork.cancelled = True
        fork.status = 408
        call.step("timeout", device=fork.device)
        if not self._try_next_target(call, 408):
            self.spawn(self._maybe_all_failed(call))

    def _fork_invite(
        self,
        call: Call,
        target: Target,
        *,
        base: SipRequest | None = None,
        authorization: tuple[str, str] | None = None,
    ) -> SipRequest:
        """The B-leg INVITE for ``target`` (or, with ``base``, its re-send with credentials:
        same Call-ID and From tag, the next CSeq, a new branch)."""
        peer = target.peer
        host, port = self._local_addr(peer)
        via = ("Via", f"SIP/2.0/{peer.transport} {host}:{port};branch={new_branch()};rport")
        if base is not None:
            cseq, _ = base.cseq
            headers = [via] + [
                (n, v)
                for n, v in base.headers
                if n not in ("Via", "CSeq", "Authorization", "Proxy-Authorization")
            ]
            headers.append(("CSeq", f"{cseq + 1} INVITE"))
            if authorization is not None:
                headers.append(authorization)
            return SipRequest("INVITE", base.uri, headers, base.body)
        origin = call.origin
        display = (
            target.from_name if target.from_name is not None else (origin.name or origin.number)
        )
        from_uri = target.from_uri or f"sip:{origin.number}@{self.advertised_host}"
        to_uri = target.to_uri or f"sip:{call.callee_extension}@{self.advertised_host}"
        max_forwards = call.a_invite.get("Max-Forwards")
        try:
            mf = max(1, int(max_forwards) - 1) if max_forwards is not None else 70
        except ValueError:
            mf = 70
        headers = [
            via,
            ("Max-Forwards", str(mf)),
            ("From", str(NameAddr(from_uri, display or None, {"tag": new_tag()}))),
            ("To", f"<{to_uri}>"),
            ("Call-ID", f"{uuid.uuid4().hex}@{self.advertised_host}"),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<{self._contact(peer)}>"),
            ("Allow", ALLOW),
            ("Supported", "100rel, timer, replaces"),
            ("User-Agent", self.settings.user_agent),
            *target.extra_headers,
            ("Content-Type", "application/sdp"),
        ]
        return SipRequest("INVITE", target.uri, headers, self._offer_for(call, target))

    def _offer_for(self, call: Call, target: Target) -> bytes:
        """The SDP offered to ``target``: reduced to the codecs the hop accepts (trunks)."""
        if not target.codecs:
            return call.b_sdp
        try:
            return restrict_codecs(call.b_sdp, target.codecs)
        except (SipError, ValueError) as exc:
            log.warning("x %s offer kept whole for %s: %s", call.a_call_id, target.device, exc)
            return call.b_sdp

    def _retry_with_credentials(self, call: Call, fork: Fork, resp: SipResponse) -> bool:
        """Answer a 401/407 from a hop we hold credentials for (a carrier); True if re-sent."""
        target = fork.target
        if target.auth_username is None or fork.auth_tries >= 1 or fork.cancelled:
            return False
        name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
        values = resp.get_all(name) or [v for n, v in resp.headers if n == name]
        for value in values:
            try:
                challenge = parse_challenge(value)
            except (SipError, ValueError):
                continue
            if not challenge.supported:
                continue
            credentials = build_authorization(
                challenge,
                "INVITE",
                fork.invite.uri,
                target.auth_username,
                target.auth_password or "",
                1,
                secrets.token_hex(8),
            )
            header = "Authorization" if resp.status == 401 else "Proxy-Authorization"
            invite = self._fork_invite(
                call, target, base=fork.invite, authorization=(header, credentials)
            )
            fork.auth_tries += 1
            fork.invite = invite
            fork.tx = self.endpoint.send_request(
                invite, fork.peer, partial(self._on_fork_event, call, fork)
            )
            call.step("authenticate", device=target.device, status=resp.status)
            return True
        return False

    # -- B-side responses ----------------------------------------------------------------
    def _on_fork_event(self, call: Call, fork: Fork, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            self.spawn(self._on_fork_response(call, fork, event.response))
        elif isinstance(event, StrayResponse):
            self._on_stray(event)
        elif isinstance(event, TransactionTimeout | TransportFailure):
            if isinstance(event.tx, ClientTransaction) and event.tx is not fork.tx:
                return  # the INVITE this fork re-sent with credentials replaced it
            fork.status = 408
            if not self._try_next_target(call, 408):
                self.spawn(self._maybe_all_failed(call))

    async def _on_fork_response(self, call: Call, fork: Fork, resp: SipResponse) -> None:
        status = resp.status
        async with call.lock:
            if status < 200:
                if status == 100 or call.state in ("answered", "ended") or fork.cancelled:
                    return
                if resp.to.tag and fork.dialog is None:
                    try:
                        fork.dialog = Dialog.create_uac(fork.invite, resp)
                    except SipError:
                        fork.dialog = None
                self._prack_if_required(call, fork, resp)
                if status in RELAYED_RESPONSE_STATUSES:
                    await self._relay_provisional(call, fork, resp)
                return
            if 200 <= status < 300:
                await self._fork_answered(call, fork, resp)
                return
            if status in (401, 407) and self._retry_with_credentials(call, fork, resp):
                return
            fork.status = status
            call.step("failed", device=fork.device, status=status)
            if self._try_next_target(call, status):
                return
        await self._maybe_all_failed(call)

    def _try_next_target(self, call: Call, status: int) -> bool:
        """Sequential routes: after a failure a next hop could fix (timeout, 5xx), ring the
        next target. True when one was sent."""
        if not call.waiting or call.winner is not None or call.state == "ended":
            return False
        if status not in FAILOVER_STATUSES:
            call.waiting.clear()
            return False
        self._send_fork(call, call.waiting.pop(0))
        return True

    def _prack_if_required(self, call: Call, fork: Fork, resp: SipResponse) -> None:
        requires = {r.strip().lower() for r in resp.get_all("Require")}
        rseq = resp.get("RSeq")
        if "100rel" not in requires or rseq is None or fork.dialog is None:
            return
        try:
            rseq_num = int(rseq.strip())
        except ValueError:
            return
        if rseq_num in fork.acked_rseq:
            return
        fork.acked_rseq.add(rseq_num)
        host, port = self._local_addr(fork.peer)
        cseq_num, _ = fork.invite.cseq
        prack = fork.dialog.create_request(
            "PRACK",
            via_host=host,
            via_port=port,
            transport=fork.peer.transport,
            extra_headers=[("RAck", f"{rseq_num} {cseq_num} INVITE")],
        )
        self.endpoint.send_request(prack, fork.peer, lambda ev: None)

    async def _relay_provisional(self, call: Call, fork: Fork, resp: SipResponse) -> None:
        if call.local_answered:
            # the caller already talks to ClickPhone (hears ringback from the flow)
            if not fork.ringing_logged:
                fork.ringing_logged = True
                call.step("ringing", device=fork.device, status=resp.status)
            return
        body = b""
        if resp.body and resp.content_type == "application/sdp":
            try:
                body = await self.media.answer(
                    call.a_call_id,
                    call.a_from_tag,
                    resp.to.tag or "",
                    resp.body,
                    media_ip=self.media_ip,
                )
            except MediaError as exc:
                log.warning("x %s early media answer failed: %s", call.a_call_id, exc)
                body = b""
        if call.a_tx.terminated:
            return
        if call.state != "ringing":
            call.step("ringing", device=fork.device, status=resp.status)
        call.state = "ringing"
        headers = [("Contact", f"<{self._contact(call.a_peer)}>"), ("Allow", ALLOW)]
        if "100rel" in {r.strip().lower() for r in call.a_invite.get_all("Require")}:
            call.a_rseq += 1
            headers += [("Require", "100rel"), ("RSeq", str(call.a_rseq))]
        status = 183 if body else resp.status
        self._respond(
            call.a_tx, call.a_invite, status, to_tag=call.a_tag, headers=headers, body=body
        )

    async def _fork_answered(self, call: Call, fork: Fork, resp: SipResponse) -> None:
        try:
            dialog = Dialog.create_uac(fork.invite, resp)
        except SipError as exc:
            log.warning("x %s bad 2xx from fork: %s", call.a_call_id, exc)
            return
        fork.dialog = dialog
        fork.status = resp.status
        host, port = self._local_addr(fork.peer)
        ack = dialog.make_ack_for_2xx(
            fork.invite, resp, via_host=host, via_port=port, transport=fork.peer.transport
        )
        self.endpoint.send_stateless(ack, fork.peer)
        if call.winner is not None or call.state == "ended" or fork.cancelled:
            # A second fork answered too late (or we already gave up): hang it up.
            self._send_bye(dialog, fork.peer)
            return
        call.winner = fork
        self._by_dialog[dialog.dialog_id] = (call, "B")
        for other in call.forks:
            if other is not fork:
                self._cancel_fork(other)
        if call.local_answered:
            await self._bridge_local(call, fork, resp)
            return
        try:
            a_sdp = await self.media.answer(
                call.a_call_id,
                call.a_from_tag,
                resp.to.tag or "",
                resp.body,
                media_ip=self.media_ip,
            )
        except MediaError as exc:
            log.warning("x %s media answer failed: %s", call.a_call_id, exc)
            self._send_bye(dialog, fork.peer)
            self._respond(call.a_tx, call.a_invite, 488, to_tag=call.a_tag)
            await self._finish(call, "media error")
            return
        if call.a_tx.terminated:
            # A cancelled meanwhile: the 487 is already sent.
            self._send_bye(dialog, fork.peer)
            await self._finish(call, "cancelled")
            return
        self._answer_caller(call, a_sdp)
        call.state = "answered"
        call.answered_at = time.time()
        self._cancel_timers(call)
        self._arm(call, self.settings.max_duration, self._max_duration)
        if call.session_expires is not None:
            self._arm_session_timer(call)
        call.step("answered", device=fork.device)
        log.info("- %s answered", call.a_call_id)
        self._ring_settled(call, 200)
        await self._publish("call.answered", call)

    def _answer_caller(self, call: Call, sdp: bytes) -> None:
        """Send the caller our 200 with ``sdp`` and open the A-leg dialog."""
        headers = [
            ("Contact", f"<{self._contact(call.a_peer)}>"),
            ("Allow", ALLOW),
            ("Supported", SUPPORTED),
        ]
        if call.session_expires is not None:
            headers += [
                ("Session-Expires", f"{call.session_expires};refresher=uac"),
                ("Require", "timer"),
            ]
        response = make_response(
            call.a_invite,
            200,
            to_tag=call.a_tag,
            extra_headers=[*headers, ("Content-Type", "application/sdp")],
            body=sdp,
        )
        self.endpoint.send_response(call.a_tx, response)
        call.a_dialog = Dialog.create_uas(call.a_invite, response)
        call.a_dialog.local_target = self._contact(call.a_peer)
        self._by_dialog[call.a_dialog.dialog_id] = (call, "A")

    def _cancel_fork(self, fork: Fork) -> None:
        if fork.cancelled or fork.status >= 200 or fork.tx is None:
            return
        fork.cancelled = True
        cancel = make_cancel(fork.invite)
        self.endpoint.send_request(cancel, fork.peer, lambda ev: None)

    async def _maybe_all_failed(self, call: Call) -> None:
        if call.winner is not None or call.state == "ended":
            return
        if call.flow is not None:
            # a ring attempt of a call flow failed: the flow decides what happens next
            if call.ring_result is None or call.waiting:
                return
            if any(f.status < 200 and not f.cancelled for f in call.ring_round):
                return
            statuses = [f.status for f in call.ring_round]
            busy = any(s in (486, 600) for s in statuses)
            self._ring_settled(call, 486 if busy else 480)
            return
        if any(f.status < 200 for f in call.forks) or call.waiting:
            return
        statuses = [f.status for f in call.forks]
        if any(s in (486, 600) for s in statuses):
            status = 486
        elif 603 in statuses:
            status = 603
        elif all(s == 487 for s in statuses) and call.a_tx.terminated:
            status = 487
        else:
            status = 480
        if not call.a_tx.terminated:
            self._respond(call.a_tx, call.a_invite, status, to_tag=call.a_tag)
        reasons = {486: "busy", 603: "declined", 487: "cancelled"}
        await self._finish(call, reasons.get(status, "no answer"))

    # -- cancel / ack / stray ------------------------------------------------------------
    async def _on_cancel(self, event: CancelReceived) -> None:
        call = self._by_a_callid.get(event.request.call_id)
        to_tag = call.a_tag if call is not None else None
        self.endpoint.layer.answer_cancel(event, self.endpoint.now(), to_tag=to_tag)
        self.endpoint.flush()
        if call is None or call.state in ("answered", "ended"):
            return
        log.info("- %s cancelled by caller", call.a_call_id)
        async with call.lock:
            for fork in call.forks:
                self._cancel_fork(fork)
            await self._finish(call, "cancelled")

    def _on_ack(self, event: AckReceived) -> None:
        found = self._by_dialog.get(dialog_id_of(event.request))
        if found is None:
            return
        call, leg = found
        if leg == "A" and call.a_dialog is not None:
            call.a_dialog.receive_request(event.request)

    def _on_stray(self, event: StrayResponse) -> None:
        resp = event.response
        if not 200 <= resp.status < 300 or resp.cseq[1] != "INVITE":
            return
        found = self._by_dialog.get(dialog_id_of(resp))
        if found is not None:
            call, leg = found
            fork = call.winner
            if leg == "B" and fork is not None and fork.dialog is not None:
                host, port = self._local_addr(fork.peer)
                cseq = resp.cseq[0]
                ack = fork.dialog.create_request(
                    "ACK", via_host=host, via_port=port, transport=fork.peer.transport
                )
                ack.set("CSeq", f"{cseq} ACK")
                self.endpoint.send_stateless(ack, event.peer)
            return
        # A 2xx from a fork we no longer want: ACK and BYE it.
        if event.tx is not None:
            try:
                dialog = Dialog.create_uac(event.tx.request, resp)
            except SipError:
                return
            host, port = self._local_addr(event.peer)
            ack = dialog.make_ack_for_2xx(
                event.tx.request,
                resp,
                via_host=host,
                via_port=port,
                transport=event.peer.transport,
            )
            self.endpoint.send_stateless(ack, event.peer)
            self._send_bye(dialog, event.peer)

    # -- in-dialog requests --------------------------------------------------------------
    async def _in_dialog(self, event: RequestReceived) -> None:
        req, tx = event.request, event.tx
        found = self._by_dialog.get(dialog_id_of(req))
        if found is None:
            call = self._by_a_callid.get(req.call_id)
            if call is not None and req.method == "PRACK" and req.to.tag == call.a_tag:
                self._respond(tx, req, 200)
                return
            self._respond(tx, req, 481)
            return
        call, leg = found
        dialog = call.a_dialog if leg == "A" else (call.winner.dialog if call.winner else None)
        if dialog is None:
            self._respond(tx, req, 481)
            return
        if not dialog.receive_request(req):
            self._respond(tx, req, 500, "CSeq out of order")
            return
        method = req.method
        if method == "BYE":
            self._respond(tx, req, 200)
            if leg == "A" and call.keep_flow and call.state != "ended":
                # the end of a voicemail message: the flow saves it and ends the call
                call.a_dialog = None
                call.caller_left.set()
                return
            log.info("- %s BYE from %s", call.a_call_id, "caller" if leg == "A" else "callee")
            async with call.lock:
                other = "B" if leg == "A" else "A"
                self._bye_leg(call, other)
                if leg == "A" and call.answered_at is None:
                    reason = "abandoned"  # the caller gave up in a call flow (IVR, queue)
                else:
                    reason = f"hangup by {'caller' if leg == 'A' else 'callee'}"
                await self._finish(call, reason)
            return
        if method in ("INVITE", "UPDATE"):
            await self._relay_offer(call, leg, event)
            return
        if method in ("OPTIONS", "INFO", "PRACK", "NOTIFY"):
            self._respond(tx, req, 200, headers=[("Allow", ALLOW)])
            return
        self._respond(tx, req, 501)

    async def _relay_offer(self, call: Call, leg: str, event: RequestReceived) -> None:
        req, tx = event.request, event.tx
        async with call.lock:
            if call.local_answered and call.winner is None and leg == "A":
                # session refresh or hold while the caller is in a call flow: keep our media
                self._refresh_session_timer(call, req)
                body = call.local_sdp if req.method == "INVITE" else b""
                self._respond(
                    tx,
                    req,
                    200,
                    headers=[("Contact", f"<{self._contact(call.a_peer)}>")],
                    body=body,
                )
                return
            if call.state != "answered" or call.winner is None or call.winner.dialog is None:
                self._respond(tx, req, 491)
                return
            if call.pending:
                self._respond(tx, req, 491, headers=[("Retry-After", "1")])
                return
            if leg == "A":
                self._refresh_session_timer(call, req)
            from_tag = req.from_.tag or ""
            body = b""
            if req.body and req.content_type == "application/sdp":
                try:
                    body = await self.media.offer(
                        call.a_call_id, from_tag, req.body, media_ip=self.media_ip
                    )
                except MediaError as exc:
                    self._respond(tx, req, exc.status_hint)
                    return
            other_dialog = call.winner.dialog if leg == "A" else call.a_dialog
            other_peer = call.winner.peer if leg == "A" else call.a_peer
            assert other_dialog is not None
            host, port = self._local_addr(other_peer)
            extra = [("Content-Type", "application/sdp")] if body else []
            out = other_dialog.create_request(
                req.method,
                via_host=host,
                via_port=port,
                transport=other_peer.transport,
                body=body,
                extra_headers=[*extra, ("Allow", ALLOW)],
            )
            if out.get("Contact") is None:
                out.set("Contact", f"<{self._contact(other_peer)}>")
            out_tx = self.endpoint.send_request(
                out, other_peer, partial(self._on_relayed_event, call, other_dialog, other_peer)
            )
            call.pending[out_tx] = (tx, from_tag)

    def _on_relayed_event(self, call: Call, dialog: Dialog, peer: Peer, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            self.spawn(self._relayed_response(call, dialog, peer, event.tx, event.response))
        elif isinstance(event, TransactionTimeout | TransportFailure):
            tx = event.tx
            if isinstance(tx, ClientTransaction):
                pending = call.pending.pop(tx, None)
                if pending is not None:
                    orig_tx, _ = pending
                    self._respond(orig_tx, orig_tx.request, 408)
            self.spawn(self._hangup_both(call, "re-INVITE timeout"))
        elif isinstance(event, StrayResponse):
            self._on_stray(event)

    async def _relayed_response(
        self, call: Call, dialog: Dialog, peer: Peer, out_tx: ClientTransaction, resp: SipResponse
    ) -> None:
        if resp.status < 200:
            return
        async with call.lock:
            pending = call.pending.pop(out_tx, None)
            if pending is None:
                return
            orig_tx, from_tag = pending
            orig = orig_tx.request
            if 200 <= resp.status < 300 and out_tx.request.method == "INVITE":
                host, port = self._local_addr(peer)
                ack = dialog.make_ack_for_2xx(
                    out_tx.request, resp, via_host=host, via_port=port, transport=peer.transport
                )
                self.endpoint.send_stateless(ack, peer)
            body = b""
            if 200 <= resp.status < 300 and resp.body and resp.content_type == "application/sdp":
                to_tag = resp.to.tag or ""
                try:
                    body = await self.media.answer(
                        call.a_call_id, from_tag, to_tag, resp.body, media_ip=self.media_ip
                    )
                except MediaError:
                    body = b""
            in_leg_peer = orig_tx.peer
            headers = [("Contact", f"<{self._contact(in_leg_peer)}>")]
            if (
                200 <= resp.status < 300
                and call.session_expires is not None
                and (orig_tx.peer == call.a_peer)
            ):
                headers += [
                    ("Session-Expires", f"{call.session_expires};refresher=uac"),
                    ("Require", "timer"),
                ]
            self._respond(orig_tx, orig, resp.status, resp.reason, headers=headers, body=body)

    # -- call flows ----------------------------------------------------------------------
    # The flow runtime (clickphone.calls.flowrun) drives a call through these primitives:
    # answer the caller's leg with ClickPhone's own media, play audio to it, collect its
    # keys, record it, ring targets (bridging the answer to the caller) and hang up.

    async def _run_flow(self, call: Call) -> None:
        assert self.flows is not None and call.flow is not None
        try:
            await self.flows.run(FlowCall(self, call), call.flow)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("x %s call flow failed", call.a_call_id)
            await self._hangup_both(call, "flow error")
            return
        if call.state != "ended" and call.winner is None:
            # the flow ended without connecting anybody and without hanging up
            await self._hangup_both(call, "flow")

    def _ring_settled(self, call: Call, status: int) -> None:
        fut = call.ring_result
        if fut is not None and not fut.done():
            fut.set_result(status)

    async def flow_answer(self, call: Call) -> bool:
        """Answer the caller's leg with ClickPhone's own media (once); False if gone."""
        async with call.lock:
            if call.local_answered:
                return True
            if call.state == "ended" or call.a_tx.terminated or call.winner is not None:
                return False
            try:
                sdp = await self.media.local_answer(
                    call.a_call_id, call.a_from_tag, media_ip=self.media_ip
                )
            except MediaError as exc:
                log.warning("x %s cannot answer locally: %s", call.a_call_id, exc)
                return False
            self._answer_caller(call, sdp)
            call.local_answered = True
            call.local_sdp = sdp
            call.state = "flow"
            if call.session_expires is not None:
                self._arm_session_timer(call)
            call.step("flow_answered")
            return True

    def flow_ringing(self, call: Call) -> None:
        if call.state != "trying" or call.a_tx.terminated:
            return
        call.state = "ringing"
        headers = [("Contact", f"<{self._contact(call.a_peer)}>"), ("Allow", ALLOW)]
        self._respond(call.a_tx, call.a_invite, 180, to_tag=call.a_tag, headers=headers)

    async def flow_ring(
        self, call: Call, targets: Iterable[Target], seconds: float, *, sequential: bool = False
    ) -> int:
        """Ring ``targets`` for up to ``seconds``: 200 when one answered (the call is then
        bridged and belongs to the B2BUA), else 486 (busy), 480 (no answer) or 487 (the
        caller left)."""
        targets = list(targets)
        loop = asyncio.get_running_loop()
        result: asyncio.Future[int] = loop.create_future()
        async with call.lock:
            if call.state == "ended":
                return 487
            if not targets:
                return 480
            call.ring_result = result
            call.ring_round = []
            if call.local_answered:
                call.b_leg = new_tag()
                try:
                    call.b_sdp = await self.media.local_offer(
                        call.a_call_id, call.b_leg, media_ip=self.media_ip
                    )
                except MediaError as exc:
                    log.warning("x %s media offer for ringing failed: %s", call.a_call_id, exc)
                    call.ring_result = None
                    return 480
            if sequential:
                call.waiting = targets[1:]
                targets = targets[:1]
            for target in targets:
                self._send_fork(call, target)
        try:
            return await asyncio.wait_for(asyncio.shield(result), seconds)
        except TimeoutError:
            async with call.lock:
                if result.done():
                    return result.result()
                call.waiting.clear()
                for fork in call.ring_round:
                    self._cancel_fork(fork)
                call.ring_result = None
                call.step("no_answer", seconds=seconds)
            return 480
        finally:
            if call.ring_result is result:
                call.ring_result = None

    async def _bridge_local(self, call: Call, fork: Fork, resp: SipResponse) -> None:
        """A callee answered a flow call whose caller ClickPhone answered: connect them."""
        try:
            await self.media.accept(call.a_call_id, call.b_leg, resp.body)
            await self.media.bridge(call.a_call_id, call.a_from_tag, call.b_leg)
        except MediaError as exc:
            log.warning("x %s bridge failed: %s", call.a_call_id, exc)
            if fork.dialog is not None:
                self._send_bye(fork.dialog, fork.peer)
            call.winner = None
            fork.status = 488
            self._ring_settled(call, 480)
            return
        call.state = "answered"
        call.answered_at = time.time()
        call.step("answered", device=fork.device)
        log.info("- %s answered (bridged from the flow)", call.a_call_id)
        self._ring_settled(call, 200)
        await self._publish("call.answered", call)

    async def flow_play(self, call: Call, path: str, *, loop: bool = False) -> bool:
        """Play ``path`` to the caller; with ``loop`` return at once (stop with flow_stop),
        else when it ended. False when the call is gone."""
        if call.state == "ended" or not call.local_answered:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            play_id = await self.media.play(call.a_call_id, call.a_from_tag, path, loop=loop)
        except MediaError as exc:
            log.warning("x %s cannot play %s: %s", call.a_call_id, path, exc)
            return call.state != "ended"
        if loop:
            return True
        call.play_waiter = (play_id, fut)
        await fut
        return call.state != "ended"

    async def flow_stop(self, call: Call) -> None:
        waiter = call.play_waiter
        call.play_waiter = None
        if waiter is not None and not waiter[1].done():
            waiter[1].set_result(None)
        if call.state == "ended":
            return
        try:
            await self.media.stop_play(call.a_call_id, call.a_from_tag)
        except MediaError:
            pass

    async def flow_collect(self, call: Call, path: str | None, seconds: float) -> str | None:
        """Play ``path`` (a key interrupts it) and wait up to ``seconds`` after it
        for one key; the key, or None on silence or when the call is gone."""
        key = asyncio.ensure_future(call.digits.get())
        try:
            if path is not None and call.state != "ended":
                playing = asyncio.ensure_future(self.flow_play(call, path))
                await asyncio.wait({key, playing}, return_when=asyncio.FIRST_COMPLETED)
                if key.done():
                    await self.flow_stop(call)
                    playing.cancel()
                    return key.result()
            if call.state == "ended":
                return None
            await asyncio.wait({key}, timeout=seconds)
            return key.result() if key.done() else None
        finally:
            key.cancel()

    async def flow_record(self, call: Call, path: str, seconds: float) -> RecordingInfo | None:
        """Record what the caller says for up to ``seconds`` (or until a key or hang-up)."""
        call.keep_flow = True  # a hang-up ends the message, not the saving and mailing of it
        try:
            await self.media.record_leg(call.a_call_id, call.a_from_tag, path)
        except MediaError as exc:
            log.warning("x %s cannot record: %s", call.a_call_id, exc)
            return None
        ended = asyncio.ensure_future(call.gone.wait())
        left = asyncio.ensure_future(call.caller_left.wait())
        key = asyncio.ensure_future(call.digits.get())
        waits = {ended, left, key}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        try:
            return await self.media.stop_record_leg(call.a_call_id, call.a_from_tag)
        except MediaError as exc:
            log.warning("x %s voicemail recording lost: %s", call.a_call_id, exc)
            return None

    async def flow_wait(self, call: Call, seconds: float) -> bool:
        """Wait (the caller hears what is playing); False when the call ended meanwhile."""
        try:
            await asyncio.wait_for(call.gone.wait(), seconds)
        except TimeoutError:
            pass
        return call.state != "ended"

    async def flow_hangup(self, call: Call, reason: str, status: int = 480) -> None:
        async with call.lock:
            if call.state == "ended":
                return
            if call.a_dialog is not None:
                self._bye_leg(call, "A")
            elif not call.local_answered and not call.a_tx.terminated:
                self._respond(call.a_tx, call.a_invite, status, to_tag=call.a_tag)
            for fork in call.forks:
                self._cancel_fork(fork)
            await self._finish(call, reason)

    # -- click-to-call (third-party call control) ---------------------------------------
    async def originate(
        self,
        *,
        tenant_id: int,
        first: Sequence[Target],
        origin: CallOrigin,
        second: str,
        first_label: str = "",
        ring_seconds: float = 30.0,
        second_seconds: float = 60.0,
    ) -> str:
        """Ring ``first`` (an employee's devices, a department's) with ClickPhone as the
        caller; when one answers, ring ``second`` (a number, routed like a call from
        ``origin``) and bridge them. Returns the call id; the call proceeds in the
        background and is logged like any other call (direction outgoing)."""
        call_id = uuid.uuid4().hex
        sip_call_id = f"{call_id}@{self.advertised_host}"
        a_tag = new_tag()
        call = Call(
            id=call_id,
            a_call_id=sip_call_id,
            tenant_id=tenant_id,
            origin=origin,
            callee_extension=second,
            a_invite=SipRequest(
                "INVITE",
                "sip:callback@invalid",
                [("From", f"<sip:callback@{self.advertised_host}>;tag={a_tag}")],
            ),
            a_tx=cast(ServerTransaction, _NO_SERVER_TX),
            a_peer=first[0].peer if first else Peer("UDP", "127.0.0.1", 0),
            a_tag=a_tag,
            media_ip=self.media_ip,
            direction="outgoing",
        )
        call.step("callback", first=first_label, number=second)
        if not await self._record_start(call):
            raise MediaError("call log unavailable", 503)
        self.calls[call.id] = call
        self._by_a_callid[call.a_call_id] = call
        await self._publish("call.started", call)
        self.spawn(self._run_originate(call, list(first), ring_seconds, second_seconds))
        return call.id

    async def _run_originate(
        self, call: Call, first: list[Target], ring_seconds: float, second_seconds: float
    ) -> None:
        try:
            answered = await self._ring_first(call, first, ring_seconds)
            if not answered:
                return
            route = await self.router.route(call.origin, call.callee_extension, call.a_invite)
            if not isinstance(route, Route) or isinstance(route, FlowRoute) or not route.targets:
                status = route.status if isinstance(route, RouteFailure) else 404
                call.step("rejected", status=status)
                await self.flow_hangup(call, FAILURE_REASONS.get(status, "rejected"))
                return
            call.direction = route.direction  # internal for an extension, else outgoing
            if self.flows is not None:
                ringback = self.flows.tones.get("ringback")
                if ringback is not None:
                    await self.flow_play(call, str(ringback), loop=True)
            status = await self.flow_ring(
                call, route.targets, second_seconds, sequential=route.sequential
            )
            if status != 200 and call.state != "ended":
                reason = {486: "busy", 487: "cancelled"}.get(status, "no answer")
                await self.flow_hangup(call, reason)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("x %s click-to-call failed", call.a_call_id)
            await self._hangup_both(call, "failed")

    async def _ring_first(self, call: Call, targets: list[Target], seconds: float) -> bool:
        """Ring the first party with an offer from the relay; True once one answered (its
        leg is then the call's A leg)."""
        if not targets:
            call.step("failed", reason="nobody to ring")
            await self._finish(call, "not registered")
            return False
        a_tag = call.a_from_tag
        try:
            offer = await self.media.local_offer(call.a_call_id, a_tag, media_ip=self.media_ip)
        except MediaError as exc:
            log.warning("x %s click-to-call offer failed: %s", call.a_call_id, exc)
            await self._finish(call, "media error")
            return False
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[tuple[int, SipResponse | None]] = asyncio.Queue()
        invites: list[SipRequest] = []
        finals: dict[int, int] = {}
        winner: list[int] = []
        decided: list[bool] = []

        def on_event(index: int, event: Event) -> None:
            if isinstance(event, ResponseReceived | StrayResponse):
                resp = event.response
                if decided and index not in winner:
                    # a device that answers after another did (or after we gave up)
                    if 200 <= resp.status < 300 and resp.cseq[1] == "INVITE":
                        self._drop_late_answer(invites[index], resp, targets[index].peer)
                    return
                answers.put_nowait((index, resp))
            elif isinstance(event, TransactionTimeout | TransportFailure):
                answers.put_nowait((index, None))

        number = call.callee_extension
        for index, target in enumerate(targets):
            host, port = self._local_addr(target.peer)
            invite = SipRequest(
                "INVITE",
                target.uri,
                [
                    (
                        "Via",
                        f"SIP/2.0/{target.peer.transport} {host}:{port};"
                        f"branch={new_branch()};rport",
                    ),
                    ("Max-Forwards", "70"),
                    (
                        "From",
                        str(
                            NameAddr(
                                f"sip:{number}@{self.advertised_host}",
                                f"Callback {number}",
                                {"tag": a_tag},
                            )
                        ),
                    ),
                    ("To", f"<{target.uri}>"),
                    ("Call-ID", f"{uuid.uuid4().hex}@{self.advertised_host}"),
                    ("CSeq", "1 INVITE"),
                    ("Contact", f"<{self._contact(target.peer)}>"),
                    ("Allow", ALLOW),
                    ("User-Agent", self.settings.user_agent),
                    ("Content-Type", "application/sdp"),
                ],
                offer,
            )
            invites.append(invite)
            self.endpoint.send_request(invite, target.peer, partial(on_event, index))
            call.step("ring", device=target.device, contact=target.uri)
        deadline = loop.time() + seconds
        while len(finals) < len(targets) and not winner and call.state != "ended":
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                index, resp = await asyncio.wait_for(answers.get(), remaining)
            except TimeoutError:
                break
            if resp is None:
                finals[index] = 408
            elif 200 <= resp.status < 300:
                winner.append(index)
                await self._first_answered(call, targets[index], invites[index], resp)
            elif resp.status >= 300:
                finals[index] = resp.status
            elif call.state == "trying":
                call.state = "ringing"
        decided.append(True)
        for index, invite in enumerate(invites):
            if index not in finals and index not in winner:
                self.endpoint.send_request(make_cancel(invite), targets[index].peer, None)
        while not answers.empty():  # answered at the same moment as the winner
            index, resp = answers.get_nowait()
            if resp is not None and 200 <= resp.status < 300 and index not in winner:
                self._drop_late_answer(invites[index], resp, targets[index].peer)
        if winner:
            return call.state != "ended"
        statuses = list(finals.values())
        reason = "busy" if any(s in (486, 600) for s in statuses) else "no answer"
        call.step("failed", reason=reason)
        await self._finish(call, reason)
        return False

    async def _first_answered(
        self, call: Call, target: Target, invite: SipRequest, resp: SipResponse
    ) -> None:
        dialog = Dialog.create_uac(invite, resp)
        host, port = self._local_addr(target.peer)
        ack = dialog.make_ack_for_2xx(
            invite, resp, via_host=host, via_port=port, transport=target.peer.transport
        )
        self.endpoint.send_stateless(ack, target.peer)
        await self.media.accept(call.a_call_id, call.a_from_tag, resp.body)
        call.a_invite = invite
        call.a_peer = target.peer
        call.a_dialog = dialog
        self._by_dialog[dialog.dialog_id] = (call, "A")
        call.local_answered = True
        call.state = "flow"
        call.step("first_answered", device=target.device)

    def _drop_late_answer(self, invite: SipRequest, resp: SipResponse, peer: Peer) -> None:
        try:
            dialog = Dialog.create_uac(invite, resp)
        except SipError:
            return
        host, port = self._local_addr(peer)
        ack = dialog.make_ack_for_2xx(
            invite, resp, via_host=host, via_port=port, transport=peer.transport
        )
        self.endpoint.send_stateless(ack, peer)
        self._send_bye(dialog, peer)

    # -- teardown ------------------------------------------------------------------------
    def _send_bye(self, dialog: Dialog, peer: Peer) -> None:
        host, port = self._local_addr(peer)
        try:
            bye = dialog.create_request(
                "BYE", via_host=host, via_port=port, transport=peer.transport
            )
        except SipError:
            return
        dialog.terminate()
        self.endpoint.send_request(bye, peer, lambda ev: None)

    def _bye_leg(self, call: Call, leg: str) -> None:
        if leg == "A" and call.a_dialog is not None:
            self._send_bye(call.a_dialog, call.a_peer)
        elif leg == "B" and call.winner is not None and call.winner.dialog is not None:
            self._send_bye(call.winner.dialog, call.winner.peer)

    async def _hangup_both(self, call: Call, reason: str) -> None:
        async with call.lock:
            if call.state == "ended":
                return
            if call.a_dialog is not None:
                self._bye_leg(call, "A")
            elif not call.local_answered and not call.a_tx.terminated:
                self._respond(call.a_tx, call.a_invite, 480, to_tag=call.a_tag)
            self._bye_leg(call, "B")
            for fork in call.forks:
                self._cancel_fork(fork)
            await self._finish(call, reason)

    async def _finish(self, call: Call, reason: str) -> None:
        if call.state == "ended":
            return
        call.state = "ended"
        call.gone.set()
        call.ended_at = time.time()
        call.end_reason = reason
        self._cancel_timers(call)
        for fork in call.forks:
            self._cancel_fork(fork)
        self._ring_settled(call, 487)
        if call.play_waiter is not None and not call.play_waiter[1].done():
            call.play_waiter[1].set_result(None)
        task = call.flow_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        for key in [k for k, v in self._by_dialog.items() if v[0] is call]:
            del self._by_dialog[key]
        self._by_a_callid.pop(call.a_call_id, None)
        self.calls.pop(call.id, None)
        try:
            await self.media.delete(call.a_call_id)
        except MediaError:
            log.warning("x %s media delete failed", call.a_call_id)
        log.info("- %s ended: %s", call.a_call_id, reason)
        call.step("end", reason=reason)
        outcome = call_outcome(call.answered_at is not None, reason)
        if self.recorder is not None and call.recorded:
            try:
                await self.recorder.finished(
                    call.id,
                    tenant_id=call.tenant_id,
                    direction=call.direction,
                    caller=call.origin.number,
                    callee=call.callee_extension,
                    answered_at=call.answered_at,
                    ended_at=call.ended_at,
                    started_at=call.started_at,
                    outcome=outcome,
                    end_reason=reason,
                    legs=[
                        {"device": f.device, "contact": f.invite.uri, "status": f.status}
                        for f in call.forks
                    ],
                    trace=call.trace,
                )
            except Exception:
                log.exception("x %s cannot complete the call record", call.a_call_id)
        duration = (call.ended_at - call.answered_at) if call.answered_at else 0.0
        await self._publish(
            "call.ended", call, reason=reason, outcome=outcome, talk_seconds=round(duration, 3)
        )

    # -- timers --------------------------------------------------------------------------
    def _arm(self, call: Call, delay: float, fn: Callable[[Call], None]) -> None:
        loop = asyncio.get_running_loop()
        call.timers.append(loop.call_later(delay, fn, call))

    def _cancel_timers(self, call: Call) -> None:
        for handle in call.timers:
            handle.cancel()
        call.timers.clear()

    def _ring_timeout(self, call: Call) -> None:
        if call.state in ("trying", "ringing"):
            log.info("- %s no answer within %ss", call.a_call_id, self.settings.ring_timeout)
            self.spawn(self._hangup_both(call, "no answer"))

    def _max_duration(self, call: Call) -> None:
        self.spawn(self._hangup_both(call, "maximum duration"))

    def _arm_session_timer(self, call: Call) -> None:
        assert call.session_expires is not None
        call.session_deadline = time.monotonic() + call.session_expires
        self._arm(call, call.session_expires, self._session_check)

    def _refresh_session_timer(self, call: Call, req: SipRequest) -> None:
        if call.session_expires is not None:
            call.session_deadline = time.monotonic() + call.session_expires

    def _session_check(self, call: Call) -> None:
        if call.session_deadline is None or call.state != "answered":
            return
        remaining = call.session_deadline - time.monotonic()
        if remaining > 0.5:
            self._arm(call, remaining, self._session_check)
            return
        log.info("- %s session timer expired", call.a_call_id)
        self.spawn(self._hangup_both(call, "session timer expired"))

    # -- media events --------------------------------------------------------------------
    async def _consume_media_events(self) -> None:
        async for ev in self.media.events():
            call = self._by_a_callid.get(ev.call_id)
            if call is None:
                continue
            if getattr(ev, "kind", "") == "play_done":
                waiter = call.play_waiter
                if waiter is not None and waiter[0] == getattr(ev, "play_id", None):
                    call.play_waiter = None
                    if not waiter[1].done():
                        waiter[1].set_result(None)
                continue
            if isinstance(ev, DtmfEvent):
                if call.flow is not None and ev.tag == call.a_from_tag and call.winner is None:
                    call.digits.put_nowait(ev.digit)
                side = "caller" if ev.tag == call.a_from_tag else "callee"
                log.info("- %s DTMF %s from %s", call.a_call_id, ev.digit, side)
                await self._publish(
                    "call.dtmf", call, digit=ev.digit, side=side, duration_ms=ev.duration_ms
                )
            elif isinstance(ev, RtpTimeoutEvent):
                log.info("- %s RTP timeout (%.0fs idle)", call.a_call_id, ev.idle_seconds)
                await self._hangup_both(call, "rtp timeout")


class _NoServerTransaction:
    """The caller leg of a click-to-call call has no INVITE server transaction."""

    terminated = True
    last_response = None


_NO_SERVER_TX = _NoServerTransaction()


class FlowRunner(Protocol):
    """The call-flow runtime the B2BUA hands flow calls to (clickphone.calls.flowrun)."""

    tones: dict[str, Path]  # ringback, beep, music (calls/tones.py)

    async def run(self, call: FlowCall, route: FlowRoute) -> None: ...


@dataclass
class FlowCall:
    """A call flow's handle on one live call: what the runtime may do with it."""

    manager: CallManager
    call: Call

    @property
    def ended(self) -> bool:
        return self.call.state == "ended"

    @property
    def bridged(self) -> bool:
        return self.call.winner is not None and self.call.state == "answered"

    def step(self, what: str, **details: Any) -> None:
        self.call.step(what, **details)

    async def answer(self) -> bool:
        return await self.manager.flow_answer(self.call)

    def clear_keys(self) -> None:
        """Forget keys pressed so far (before a menu starts, they do not count)."""
        while not self.call.digits.empty():
            self.call.digits.get_nowait()

    def ringing(self) -> None:
        """Tell the caller the call is progressing (180) until somebody answers."""
        self.manager.flow_ringing(self.call)

    async def publish(self, type_: str, **extra: Any) -> None:
        await self.manager._publish(type_, self.call, **extra)

    async def ring(
        self, targets: Iterable[Target], seconds: float, *, sequential: bool = False
    ) -> int:
        return await self.manager.flow_ring(self.call, targets, seconds, sequential=sequential)

    async def play(self, path: str, *, loop: bool = False) -> bool:
        return await self.manager.flow_play(self.call, path, loop=loop)

    async def stop(self) -> None:
        await self.manager.flow_stop(self.call)

    async def collect(self, path: str | None, seconds: float) -> str | None:
        return await self.manager.flow_collect(self.call, path, seconds)

    async def record(self, path: str, seconds: float) -> RecordingInfo | None:
        return await self.manager.flow_record(self.call, path, seconds)

    async def wait(self, seconds: float) -> bool:
        return await self.manager.flow_wait(self.call, seconds)

    async def hangup(self, reason: str, status: int = 480) -> None:
        await self.manager.flow_hangup(self.call, reason, status)

    def busy_devices(self) -> set[str]:
        return set(self.manager.busy_legs())


def line_of(route: Route | RouteFailure) -> str | None:
    """The line of a call for statistics: the virtual number an incoming call was made to,
    the caller ID an outgoing call presents (else the trunk)."""
    if route.direction == "incoming":
        return route.callee or None
    if route.direction != "outgoing" or not isinstance(route, Route) or not route.targets:
        return None
    target = route.targets[0]
    if target.from_uri:
        user = uri_user(target.from_uri)
        if user:
            return user
    return target.device or None


def call_outcome(answered: bool, reason: str) -> str:
    """The call-log outcome of a call that ended for ``reason``."""
    if answered:
        return "answered"
    if reason == "busy":
        return "busy"
    if reason == "cancelled":
        return "cancelled"
    if reason in ("no answer", "declined", "not registered", "abandoned", "voicemail", "flow"):
        return "missed"
    return "failed"


__all__ = ["Call", "CallManager", "CallSettings", "FlowCall", "FlowRunner"]
