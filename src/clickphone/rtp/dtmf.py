"""RFC 4733 telephone-event payloads and a detector that yields one digit per event.

A sender repeats an event's packets (same RTP timestamp, growing duration) while the key is
held and sends the final packet with the End bit set three times. :class:`DtmfDetector`
collapses that stream into exactly one :class:`DtmfDigit` per (SSRC, timestamp): it reports a
digit at its first End packet, or — if every End packet was lost — when the next event starts
or :meth:`DtmfDetector.flush` is called.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

EVENT_CODES = "0123456789*#ABCD"
FLASH_EVENT = 16

_PAYLOAD = struct.Struct("!BBH")


class DtmfParseError(ValueError):
    """A telephone-event payload is malformed."""


def event_to_digit(event: int) -> str:
    if 0 <= event < len(EVENT_CODES):
        return EVENT_CODES[event]
    if event == FLASH_EVENT:
        return "!"
    raise ValueError(f"telephone-event {event} is not a DTMF key or flash")


def digit_to_event(digit: str) -> int:
    if digit == "!":
        return FLASH_EVENT
    idx = EVENT_CODES.find(digit.upper())
    if idx < 0 or len(digit) != 1:
        raise ValueError(f"{digit!r} is not a DTMF digit")
    return idx


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte RFC 4733 §2.3 payload."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        if len(payload) < 4:
            raise DtmfParseError(f"telephone-event payload too short: {len(payload)} bytes")
        event, flags, duration = _PAYLOAD.unpack_from(payload, 0)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    def serialize(self) -> bytes:
        if not 0 <= self.event <= 255:
            raise ValueError("event must be 0-255")
        if not 0 <= self.volume <= 63:
            raise ValueError("volume must be 0-63 (-dBm0)")
        if not 0 <= self.duration <= 0xFFFF:
            raise ValueError("duration must be 0-65535 timestamp units")
        return _PAYLOAD.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    digit: str
    duration_ms: int
    ssrc: int
    timestamp: int
    volume: int
    ended: bool  # False when the End packets were lost and we inferred the end


@dataclass(slots=True)
class _Pending:
    ssrc: int
    timestamp: int
    event: TelephoneEvent


class DtmfDetector:
    """Turns telephone-event packets into digits, one per event, deduplicated by timestamp."""

    def __init__(self, clock_rate: int = 8000, history: int = 32) -> None:
        self.clock_rate = clock_rate
        self._done: deque[tuple[int, int]] = deque(maxlen=history)
        self._pending: _Pending | None = None

    def _digit(self, p: _Pending, *, ended: bool) -> DtmfDigit | None:
        self._done.append((p.ssrc, p.timestamp))
        try:
            digit = event_to_digit(p.event.event)
        except ValueError:
            return None  # other telephone events (tones) are not digits
        return DtmfDigit(
            digit=digit,
            duration_ms=p.event.duration * 1000 // self.clock_rate,
            ssrc=p.ssrc,
            timestamp=p.timestamp,
            volume=p.event.volume,
            ended=ended,
        )

    def feed(self, ssrc: int, timestamp: int, payload: bytes) -> list[DtmfDigit]:
        """Process one telephone-event packet; return the digits it completes (0, 1 or 2)."""
        ev = TelephoneEvent.parse(payload)
        key = (ssrc, timestamp)
        if key in self._done:
            return []  # redundant End packet of an event already reported
        out: list[DtmfDigit] = []
        pending = self._pending
        if pending is not None and (pending.ssrc, pending.timestamp) != key:
            # a new event began before we saw the previous one's End: report it now
            self._pending = None
            digit = self._digit(pending, ended=False)
            if digit is not None:
                out.append(digit)
        current = _Pending(ssrc, timestamp, ev)
        if ev.end:
            self._pending = None
            digit = self._digit(current, ended=True)
            if digit is not None:
                out.append(digit)
        else:
            self._pending = current
        return out

    def flush(self) -> list[DtmfDigit]:
        """Report an event still in progress (call this when the stream times out)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        digit = self._digit(pending, ended=False)
        return [digit] if digit is not None else []
