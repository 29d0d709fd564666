"""In-process async event bus: subscribe by exact type or prefix, publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from clickphone.bus.events import Event
from clickphone.logging import get_logger

Handler = Callable[[Event], Awaitable[None]]
log = get_logger(__name__)


def matches(pattern: str, event_type: str) -> bool:
    """``*`` matches all; ``call.*`` matches ``call.started``, ``call.x.y``; else exact."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@dataclass(eq=False)
class Subscription:
    pattern: str
    handler: Handler


class EventBus:
    """Delivers each published event to every matching subscriber, in subscription order.

    A failing handler is logged and does not stop delivery to the others. The bus is
    at-most-once by itself; durable events go through the outbox (at-least-once, dedupe by
    ``Event.id``).
    """

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        sub = Subscription(pattern, handler)
        self._subs.append(sub)

        def unsubscribe() -> None:
            if sub in self._subs:
                self._subs.remove(sub)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        for sub in list(self._subs):
            if not matches(sub.pattern, event.type):
                continue
            try:
                await sub.handler(event)
            except Exception:
                log.exception("bus.handler_failed", event_type=event.type, event_id=event.id)

    @asynccontextmanager
    async def stream(
        self, pattern: str = "*", maxsize: int = 1000
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue receiving matching events while the context is open (e.g. a WebSocket)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)

        async def put(event: Event) -> None:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("bus.stream_overflow", event_type=event.type, event_id=event.id)

        unsubscribe = self.subscribe(pattern, put)
        try:
            yield queue
        finally:
            unsubscribe()
