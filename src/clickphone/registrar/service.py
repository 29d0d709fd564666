"""The registrar: authenticated REGISTER -> bindings (in memory, persisted behind)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import formatdate

from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.registrar.auth import SipAuthenticator
from clickphone.registrar.bindings import Binding, BindingTable, RegisterError
from clickphone.registrar.store import DeviceDirectory, DeviceInfo, RegistrationStore
from clickphone.sip.errors import SipPeerError
from clickphone.sip.message import SipRequest, SipResponse, make_response
from clickphone.sip.transaction import Peer

log = logging.getLogger("clickphone.registrar")

# Transports whose bindings live exactly as long as the connection they came over: a
# WebSocket client cannot be reached any other way (RFC 7118 §5, its Contact is x.invalid).
CONNECTION_BOUND = frozenset({"WS", "WSS"})


class Registrar:
    def __init__(
        self,
        authenticator: SipAuthenticator,
        directory: DeviceDirectory,
        store: RegistrationStore,
        *,
        bus: EventBus | None = None,
        clock: Callable[[], float] = time.time,
        max_contacts: int = 10,
    ) -> None:
        self.auth = authenticator
        self.directory = directory
        self.store = store
        self.bus = bus
        self.clock = clock
        self.table = BindingTable(max_contacts=max_contacts)
        self.device_ids: dict[str, int] = {}
        # usernames registered over each connection-bound peer (which bindings a close drops)
        self.by_connection: dict[Peer, set[str]] = {}

    async def start(self) -> None:
        now = self.clock()
        stale: list[Binding] = []
        for device_id, binding in await self.store.load(now):
            if binding.peer.transport in CONNECTION_BOUND:
                stale.append(binding)  # its connection did not survive the restart
                continue
            self.table.restore(binding)
            self.device_ids[binding.username] = device_id
        for binding in stale:
            device = await self.directory.get(binding.username)
            if device is not None:
                self.store.delete(device, binding)
        await self.store.purge_expired(now)
        self.store.start()

    async def stop(self) -> None:
        await self.store.stop()

    def lookup(self, username: str) -> list[Binding]:
        return self.table.lookup(username, self.clock())

    def expire(self) -> list[Binding]:
        return self.table.expire(self.clock())

    async def handle(self, request: SipRequest, peer: Peer) -> SipResponse:
        now = self.clock()
        outcome = await self.auth.authenticate(request, peer, now)
        if isinstance(outcome, SipResponse):
            return outcome
        device: DeviceInfo = outcome
        try:
            result = self.table.apply(device.username, request, peer, now)
        except RegisterError as exc:
            return make_response(request, exc.status, exc.reason, extra_headers=exc.headers)
        except SipPeerError as exc:
            return make_response(request, exc.status_hint, str(exc)[:80])
        self.device_ids[device.username] = device.id
        if peer.transport in CONNECTION_BOUND and result.upserted:
            self.by_connection.setdefault(peer, set()).add(device.username)
        for b in result.upserted:
            self.store.upsert(device, b)
        for b in result.removed:
            self.store.delete(device, b)
        if result.added or result.removed:
            # Online/offline changed (a refresh of a known contact changes nothing visible).
            log.info(
                "- %s registered %d contact(s) from %s:%s/%s call-id=%s",
                device.username,
                len(result.current),
                peer.host,
                peer.port,
                peer.transport,
                request.call_id,
            )
            if self.bus is not None:
                await self.bus.publish(
                    Event(
                        "sip.registration.changed",
                        {
                            "device_id": device.id,
                            "username": device.username,
                            "online": bool(result.current),
                            "contacts": [
                                {
                                    "uri": b.contact,
                                    "address": f"{b.peer.host}:{b.peer.port}",
                                    "transport": b.peer.transport,
                                    "user_agent": b.user_agent,
                                    "expires": b.expires_in(now),
                                }
                                for b in result.current
                            ],
                        },
                        tenant_id=device.tenant_id,
                    )
                )
        headers = [
            ("Contact", f"<{b.contact}>;expires={b.expires_in(now)}") for b in result.current
        ]
        headers.append(("Date", _http_date(now)))
        return make_response(request, 200, extra_headers=headers)

    def drop_connection(self, peer: Peer) -> list[Binding]:
        """A connection-bound peer (WebSocket) closed: drop its bindings now (so no call is
        routed to them) and return them; :meth:`forget` persists and announces that."""
        usernames = self.by_connection.pop(peer, None)
        if not usernames:
            return []
        return self.table.drop_peer(peer, usernames)

    async def forget(self, gone: list[Binding]) -> None:
        """Persist the removal of bindings dropped outside a REGISTER and publish the
        registration change of each device."""
        now = self.clock()
        for username in sorted({b.username for b in gone}):
            device = await self.directory.get(username)
            if device is None:
                continue
            mine = [b for b in gone if b.username == username]
            for b in mine:
                self.store.delete(device, b)
            current = self.lookup(username)
            log.info("- %s lost %d contact(s): connection closed", username, len(mine))
            if self.bus is not None:
                await self.bus.publish(
                    Event(
                        "sip.registration.changed",
                        {
                            "device_id": device.id,
                            "username": device.username,
                            "online": bool(current),
                            "contacts": [_contact_info(b, now) for b in current],
                        },
                        tenant_id=device.tenant_id,
                    )
                )


_DATE_CACHE: list[tuple[int, str]] = [(-1, "")]


def _http_date(now: float) -> str:
    """RFC 1123 date for the Date header, formatted once per second."""
    second = int(now)
    cached = _DATE_CACHE[0]
    if cached[0] != second:
        cached = (second, formatdate(second, usegmt=True))
        _DATE_CACHE[0] = cached
    return cached[1]


def _contact_info(b: Binding, now: float) -> dict[str, object]:
    return {
        "uri": b.contact,
        "address": f"{b.peer.host}:{b.peer.port}",
        "transport": b.peer.transport,
        "user_agent": b.user_agent,
        "expires": b.expires_in(now),
    }
