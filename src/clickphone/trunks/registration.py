"""Keeps ClickPhone registered with carriers and watches every trunk with OPTIONS pings.

One task per registration trunk: REGISTER (answering the carrier's 401/407 digest challenge
with the trunk's credentials), then refresh before the granted expiry; on failure, retry
after ``retry_interval``. One task per trunk with ``options_interval`` > 0 sends OPTIONS and
marks the trunk up or down. Requests go out through the SIP server's endpoint as client
transactions (retransmissions and timeouts are the transaction layer's). The state of each
trunk is kept in memory (:meth:`state`) and changes are published as ``trunk.state`` events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event as BusEvent
from clickphone.sip.auth import build_authorization, parse_challenge
from clickphone.sip.dialog import new_tag
from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.transaction import (
    Event,
    Peer,
    ResponseReceived,
    TransactionTimeout,
    TransportFailure,
    new_branch,
)
from clickphone.transport.endpoint import SipEndpoint
from clickphone.trunks.dialplan import TrunkSpec
from clickphone.trunks.registry import TrunkRegistry

log = logging.getLogger("clickphone.trunks")


@dataclass
class TrunkState:
    trunk_id: int
    name: str
    registration: str = "none"  # none, registering, registered, failed
    last_status: int | None = None
    last_reason: str = ""
    registered_at: float | None = None
    expires_at: float | None = None
    refreshes: int = 0
    health: str = "unknown"  # unknown, up, down
    last_options_status: int | None = None
    last_options_rtt_ms: float | None = None
    checked_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrunkRegistrationService:
    def __init__(
        self,
        endpoint: SipEndpoint,
        registry: TrunkRegistry,
        *,
        local_address: Callable[[], tuple[str, int]],
        bus: EventBus | None = None,
        retry_interval: float = 30.0,
        refresh_fraction: float = 0.8,
        rescan_interval: float = 30.0,
        user_agent: str = "ClickPhone",
    ) -> None:
        self.endpoint = endpoint
        self.registry = registry
        self.local_address = local_address
        self.bus = bus
        self.retry_interval = retry_interval
        self.refresh_fraction = refresh_fraction
        self.rescan_interval = rescan_interval
        self.user_agent = user_agent
        self.states: dict[int, TrunkState] = {}
        self._registrars: dict[int, tuple[TrunkSpec, asyncio.Task[None]]] = {}
        self._pingers: dict[int, tuple[TrunkSpec, asyncio.Task[None]]] = {}
        self._scanner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        await self.sync()
        self._scanner = asyncio.create_task(self._scan())

    async def stop(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
        tasks = [t for _, t in self._registrars.values()] + [t for _, t in self._pingers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._registrars.clear()
        self._pingers.clear()

    def changed(self) -> None:
        """Trunks were edited: reload them now."""
        self.registry.invalidate()
        self._wake.set()

    async def _scan(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.rescan_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("x trunk rescan failed")

    async def sync(self) -> None:
        """Start, restart (on change) and stop the per-trunk tasks to match the trunks."""
        specs = {s.id: s for s in await self.registry.trunks() if s.enabled}
        for tid, (spec, task) in list(self._registrars.items()):
            if specs.get(tid) != spec:
                task.cancel()
                del self._registrars[tid]
        for tid, (spec, task) in list(self._pingers.items()):
            if specs.get(tid) != spec:
                task.cancel()
                del self._pingers[tid]
        for tid in list(self.states):
            if tid not in specs:
                del self.states[tid]
        for tid, spec in specs.items():
            self.states.setdefault(tid, TrunkState(tid, spec.name)).name = spec.name
            if spec.kind == "registration" and spec.username and tid not in self._registrars:
                self._registrars[tid] = (spec, asyncio.create_task(self._keep_registered(spec)))
            if tid not in self._pingers and self._options_interval(spec) > 0:
                self._pingers[tid] = (spec, asyncio.create_task(self._ping(spec)))

    # -- state ---------------------------------------------------------------------------
    def state(self, trunk_id: int) -> dict[str, Any] | None:
        st = self.states.get(trunk_id)
        return st.as_dict() if st is not None else None

    def is_down(self, trunk_id: int) -> bool:
        st = self.states.get(trunk_id)
        return st is not None and (st.health == "down" or st.registration == "failed")

    async def _publish(self, st: TrunkState) -> None:
        if self.bus is not None:
            await self.bus.publish(BusEvent("trunk.state", st.as_dict()))

    # -- transactions --------------------------------------------------------------------
    async def _transact(self, request: SipRequest, peer: Peer) -> SipResponse | None:
        """Send ``request``; its final response, or None on timeout / transport failure."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[SipResponse | None] = loop.create_future()

        def on_event(event: Event) -> None:
            if done.done():
                return
            if isinstance(event, ResponseReceived) and event.response.status >= 200:
                done.set_result(event.response)
            elif isinstance(event, TransactionTimeout | TransportFailure):
                done.set_result(None)

        self.endpoint.send_request(request, peer, on_event)
        return await done

    def _request(
        self, method: str, uri: str, spec: TrunkSpec, call_id: str, cseq: int, from_tag: str
    ) -> SipRequest:
        host, port = self.local_address()
        transport = spec.next_hop.transport
        user = spec.username or "clickphone"
        aor = f"sip:{user}@{spec.domain}"
        headers = [
            ("Via", f"SIP/2.0/{transport} {host}:{port};branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<{aor}>;tag={from_tag}"),
            ("To", f"<{aor}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
            ("User-Agent", self.user_agent),
        ]
        if method == "REGISTER":
            contact_params = "" if transport == "UDP" else f";transport={transport.lower()}"
            headers.append(("Contact", f"<sip:{user}@{host}:{port}{contact_params}>"))
        return SipRequest(method, uri, headers)

    # -- registration --------------------------------------------------------------------
    async def _keep_registered(self, spec: TrunkSpec) -> None:
        st = self.states[spec.id]
        call_id = f"{uuid.uuid4().hex}@clickphone"
        from_tag = new_tag()
        cseq = 0
        while True:
            st.registration = "registering" if st.registration != "registered" else st.registration
            try:
                granted, cseq = await self._register_once(spec, call_id, from_tag, cseq)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("x trunk %s: REGISTER failed", spec.name)
                granted = None
            now = time.time()
            if granted is not None and granted > 0:
                if st.registration == "registered":
                    st.refreshes += 1
                st.registration = "registered"
                st.registered_at = now
                st.expires_at = now + granted
                log.info("- trunk %s registered for %ds", spec.name, granted)
                await self._publish(st)
                await asyncio.sleep(max(1.0, granted * self.refresh_fraction))
            else:
                st.registration = "failed"
                st.expires_at = None
                log.warning(
                    "x trunk %s registration failed: %s %s",
                    spec.name,
                    st.last_status,
                    st.last_reason,
                )
                await self._publish(st)
                await asyncio.sleep(self.retry_interval)

    async def _register_once(
        self, spec: TrunkSpec, call_id: str, from_tag: str, cseq: int
    ) -> tuple[int | None, int]:
        """One REGISTER (plus its authenticated re-send): the granted expiry or None."""
        st = self.states[spec.id]
        uri = f"sip:{spec.domain}" + (f":{spec.port}" if spec.port != 5060 else "")
        expires = self.register_expires(spec)
        authorization: tuple[str, str] | None = None
        for _attempt in range(2):
            cseq += 1
            req = self._request("REGISTER", uri, spec, call_id, cseq, from_tag)
            req.headers.append(("Expires", str(expires)))
            if authorization is not None:
                req.headers.append(authorization)
            resp = await self._transact(req, spec.next_hop)
            if resp is None:
                st.last_status, st.last_reason = 408, "no answer from the carrier"
                return None, cseq
            st.last_status, st.last_reason = resp.status, resp.reason
            if resp.status in (401, 407) and authorization is None:
                authorization = self._answer(resp, "REGISTER", uri, spec)
                if authorization is None:
                    return None, cseq
                continue
            if 200 <= resp.status < 300:
                return granted_expiry(resp, expires), cseq
            return None, cseq
        return None, cseq

    def register_expires(self, spec: TrunkSpec) -> int:
        return max(30, spec.register_expires)

    def _answer(
        self, resp: SipResponse, method: str, uri: str, spec: TrunkSpec
    ) -> tuple[str, str] | None:
        name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
        for value in resp.get_all(name):
            try:
                challenge = parse_challenge(value)
            except ValueError:
                continue
            if not challenge.supported:
                continue
            credentials = build_authorization(
                challenge,
                method,
                uri,
                spec.username or "",
                spec.password or "",
                1,
                secrets.token_hex(8),
            )
            return ("Authorization" if resp.status == 401 else "Proxy-Authorization", credentials)
        return None

    # -- health --------------------------------------------------------------------------
    def _options_interval(self, spec: TrunkSpec) -> float:
        return float(spec.options_interval or 0)

    async def _ping(self, spec: TrunkSpec) -> None:
        st = self.states[spec.id]
        while True:
            uri = f"sip:{spec.domain}" + (f":{spec.port}" if spec.port != 5060 else "")
            req = self._request(
                "OPTIONS", uri, spec, f"{uuid.uuid4().hex}@clickphone", 1, new_tag()
            )
            started = time.monotonic()
            resp = await self._transact(req, spec.next_hop)
            previous = st.health
            st.checked_at = time.time()
            if resp is None:
                st.health, st.last_options_status, st.last_options_rtt_ms = "down", None, None
            else:
                # Any answer (even 401/404/405) proves the carrier is there.
                st.health = "up"
                st.last_options_status = resp.status
                st.last_options_rtt_ms = round((time.monotonic() - started) * 1000, 1)
            if st.health != previous:
                log.info("- trunk %s is %s", spec.name, st.health)
                await self._publish(st)
            await asyncio.sleep(self._options_interval(spec))


def granted_expiry(resp: SipResponse, asked: int) -> int:
    """The expiry the registrar granted: the Contact's ``expires``, else Expires, else ours."""
    for contact in resp.contacts:
        value = contact.params.get("expires")
        if value and value.isdigit():
            return int(value)
    header = resp.get("Expires")
    if header and header.strip().isdigit():
        return int(header.strip())
    return asked
