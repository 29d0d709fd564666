"""Event bus (in-process) and transactional outbox."""

from clickphone.bus.bus import EventBus, matches
from clickphone.bus.events import Event
from clickphone.bus.outbox import OutboxDispatcher, add_event

__all__ = ["Event", "EventBus", "OutboxDispatcher", "add_event", "matches"]
