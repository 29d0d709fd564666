"""GET /api/v1/ws: live status of the user's company over a WebSocket.

Authentication is the browser session cookie (or ``Authorization: Bearer <api token>`` for
scripts). A browser always sends ``Origin`` with a WebSocket handshake; it must name the host
the request went to, so another site cannot open the socket with the user's cookie
(cross-site WebSocket hijacking). A refused handshake answers HTTP 403.

Messages (JSON text frames, server to client):

- ``{"type": "hello", "user_id", "tenant_id"}`` once, after the handshake;
- ``{"type": "event", "event": {"id", "type", "tenant_id", "payload", "created_at"}}`` for
  each bus event of the user's tenant matching :data:`PATTERNS` (operator admins get every
  tenant's); message and notification events (:data:`PERSONAL`) go only to the users they
  name (a conversation's members, a notification's addressee);
- ``{"type": "snapshot", "at", "active_calls": [...], "devices_online": n}`` right away and
  every :data:`SNAPSHOT_SECONDS`;
- ``{"type": "dropped", "count": n}`` when a slow client lagged and the oldest queued events
  were dropped (the client should refetch).

The socket closes with code 4401 when the session ends (sign-out, password change, expiry).
Anything the client sends is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from clickphone.accounts.scope import Actor
from clickphone.accounts.service import actor_for
from clickphone.api.deps import SESSION_COOKIE, Services
from clickphone.bus import Event
from clickphone.db.models import SipRegistration
from clickphone.logging import get_logger

log = get_logger(__name__)

router = APIRouter(tags=["live"])

PATTERNS = (
    "call.*",
    "sip.registration.changed",
    "device.*",
    "employee.*",
    "message.created",
    "message.status",
    "message.conversation",
    "notification.created",
    "voicemail.created",
)
# events only the users they name see (``payload["user_ids"]`` or ``payload["user_id"]``)
PERSONAL = frozenset(
    {
        "message.created",
        "message.status",
        "message.conversation",
        "notification.created",
        "voicemail.created",
    }
)
SNAPSHOT_SECONDS = 10.0
QUEUE_SIZE = 200  # events kept per connection; the oldest go first when a client lags
CLOSE_UNAUTHORIZED = 4401
# what sending to or reading from a socket the client has left raises
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


def same_origin(origin: str, host: str | None) -> bool:
    """True when the ``Origin`` header names the ``Host`` the request was sent to."""
    if not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    default = "443" if parts.scheme == "https" else "80"

    def norm(netloc: str) -> str:
        netloc = netloc.lower()
        if netloc.endswith("]") or ":" not in netloc.rsplit("]", 1)[-1]:
            return f"{netloc}:{default}"
        return netloc

    return norm(parts.netloc) == norm(host)


def visible_to(actor: Actor, event: Event) -> bool:
    if event.type in PERSONAL:  # addressed to users, not to the whole company
        payload = event.payload
        users = payload.get("user_ids", [payload.get("user_id")])
        return actor.user_id in users
    if actor.is_operator:
        return True
    return event.tenant_id is not None and event.tenant_id == actor.tenant_id


class Outbox:
    """A bounded per-connection queue: when full, the oldest event is dropped."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self.items: deque[Event] = deque(maxlen=size)
        self.dropped = 0
        self.ready = asyncio.Event()

    def put(self, event: Event) -> None:
        if len(self.items) == self.items.maxlen:
            self.dropped += 1
        self.items.append(event)
        self.ready.set()

    def take(self) -> tuple[list[Event], int]:
        items, dropped = list(self.items), self.dropped
        self.items.clear()
        self.dropped = 0
        self.ready.clear()
        return items, dropped


async def _authenticate(websocket: WebSocket, services: Services) -> Actor | None:
    auth = websocket.headers.get("authorization", "")
    async with services.database.session() as session:
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            user = await services.accounts.resolve_api_token(session, token.strip())
            return actor_for(user, via_token=True) if user is not None else None
        cookie = websocket.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        found = await services.accounts.resolve_web_session(session, cookie)
        return actor_for(found[0]) if found is not None else None


async def _still_signed_in(websocket: WebSocket, services: Services) -> bool:
    return await _authenticate(websocket, services) is not None


async def snapshot(services: Services, actor: Actor) -> dict[str, Any]:
    """Active calls (from the running call engine) and devices online now."""
    tenant = None if actor.is_operator else actor.tenant_id
    calls: list[dict[str, Any]] = []
    engine = getattr(getattr(services.extra.get("telephony"), "sip", None), "calls", None)
    if engine is not None and (tenant is not None or actor.is_operator):
        calls = engine.active_calls(tenant)
    stmt = select(func.count(func.distinct(SipRegistration.device_id))).where(
        SipRegistration.expires_at > datetime.now(UTC)
    )
    if not actor.is_operator:
        stmt = stmt.where(SipRegistration.tenant_id == actor.tenant_id)
    async with services.database.session() as session:
        online = int(await session.scalar(stmt) or 0)
    return {
        "type": "snapshot",
        "at": datetime.now(UTC).isoformat(),
        "active_calls": calls,
        "devices_online": online,
    }


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, default=str, separators=(",", ":"))


@router.websocket("/ws")
async def live_status(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    origin = websocket.headers.get("origin")
    if origin is not None and not same_origin(origin, websocket.headers.get("host")):
        log.info("ws.refused_origin", origin=origin)
        await websocket.close(code=1008)
        return
    actor = await _authenticate(websocket, services)
    if actor is None:
        await websocket.close(code=1008)
        return
    await websocket.accept()

    queue = Outbox()

    async def on_event(event: Event) -> None:
        if visible_to(actor, event):
            queue.put(event)

    unsubscribe = [services.bus.subscribe(p, on_event) for p in PATTERNS]

    async def sender() -> None:
        await websocket.send_text(
            _dumps({"type": "hello", "user_id": actor.user_id, "tenant_id": actor.tenant_id})
        )
        loop = asyncio.get_running_loop()
        next_snapshot = 0.0
        while True:
            now = loop.time()
            if now >= next_snapshot:
                if not await _still_signed_in(websocket, services):
                    await websocket.close(code=CLOSE_UNAUTHORIZED, reason="signed out")
                    return
                await websocket.send_text(_dumps(await snapshot(services, actor)))
                next_snapshot = now + SNAPSHOT_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.ready.wait(), max(0.0, next_snapshot - now))
            events, dropped = queue.take()
            if dropped:
                await websocket.send_text(_dumps({"type": "dropped", "count": dropped}))
            for event in events:
                await websocket.send_text(_dumps({"type": "event", "event": event.as_dict()}))

    async def receiver() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, _GONE):
                log.warning("ws.failed", error=repr(exc))
    finally:
        for unsub in unsubscribe:
            unsub()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
