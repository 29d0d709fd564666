"""The event value passed around the bus."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clickphone.db.models import new_event_id, utcnow


@dataclass(frozen=True, slots=True)
class Event:
    """An event. ``id`` is stable across re-deliveries, so consumers can dedupe on it."""

    type: str
    payload: dict[str, Any]
    tenant_id: int | None = None
    id: str = field(default_factory=new_event_id)
    created_at: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "tenant_id": self.tenant_id,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }
