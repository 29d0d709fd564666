"""In-memory network for SIP transaction tests: endpoints, latency, loss patterns, manual clock.

A tiny discrete-event simulator. Each :class:`Endpoint` owns a ``TransactionLayer`` and an
optional TU handler called for every event it reports. :meth:`Network.run` delivers
datagrams (each after ``latency`` seconds) and fires layer timers in time order, advancing
the :class:`ManualClock` — nothing ever sleeps. A loss pattern decides, per datagram, whether
it is dropped: :class:`DropNth` (by global send order) and :class:`DropMatching` (by start
line) cover the usual cases.

Datagrams are decoded with a deliberately small parser (start line, ``Name: value`` lines,
body) so these tests do not depend on the production parser.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from clickphone.sip.message import SipRequest, SipResponse
from clickphone.sip.transaction import Event, Peer, TransactionLayer


def decode(data: bytes) -> SipRequest | SipResponse:
    """Parse the well-formed messages our own layer serializes (no folding, no compact forms)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8").split("\r\n")
    start = lines[0].split(" ", 2)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() != "content-length":
            headers.append((name.strip(), value.strip()))
    if start[0] == "SIP/2.0":
        return SipResponse(int(start[1]), start[2], headers, body)
    return SipRequest(start[0], start[1], headers, body)


def start_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode("utf-8")


class LossPattern(Protocol):
    def __call__(self, index: int, data: bytes, src: Peer, dst: Peer) -> bool:
        """True to drop datagram number ``index`` (1-based, in global send order)."""
        ...


class DropNth:
    """Drop the datagrams with these global send numbers (1-based)."""

    def __init__(self, *numbers: int) -> None:
        self.numbers = set(numbers)

    def __call__(self, index: int, data: bytes, src: Peer, dst: Peer) -> bool:
        return index in self.numbers


class DropMatching:
    """Drop the first ``count`` datagrams whose start line begins with ``prefix``
    (``"INVITE"``, ``"SIP/2.0 200"``, ``"ACK"``), optionally only those sent by ``src``."""

    def __init__(self, prefix: str, count: int = 1, *, src: Peer | None = None) -> None:
        self.prefix = prefix
        self.remaining = count
        self.src = src

    def __call__(self, index: int, data: bytes, src: Peer, dst: Peer) -> bool:
        if self.remaining <= 0 or (self.src is not None and src != self.src):
            return False
        if start_line(data).startswith(self.prefix):
            self.remaining -= 1
            return True
        return False


class AllOf:
    """Combine loss patterns: a datagram is dropped if any of them drops it."""

    def __init__(self, *patterns: LossPattern) -> None:
        self.patterns = patterns

    def __call__(self, index: int, data: bytes, src: Peer, dst: Peer) -> bool:
        # evaluate every pattern so counting patterns see every datagram
        return any([p(index, data, src, dst) for p in self.patterns])


def no_loss(index: int, data: bytes, src: Peer, dst: Peer) -> bool:
    return False


@dataclass
class ManualClock:
    now: float = 0.0

    def advance_to(self, when: float) -> None:
        assert when >= self.now, f"time cannot go back from {self.now} to {when}"
        self.now = when


@dataclass
class Wire:
    """One datagram as seen on the wire."""

    time: float
    index: int
    src: Peer
    dst: Peer
    line: str
    dropped: bool


Handler = Callable[["Endpoint", Event], None]


@dataclass
class Endpoint:
    net: Network
    name: str
    addr: Peer
    layer: TransactionLayer
    handler: Handler | None = None
    events: list[tuple[float, Event]] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.net.clock.now

    def dispatch(self, events: list[Event]) -> None:
        for event in events:
            self.events.append((self.now, event))
            if self.handler is not None:
                self.handler(self, event)

    def of_type(self, kind: type) -> list[Event]:
        return [e for _, e in self.events if isinstance(e, kind)]


class Network:
    def __init__(self, *, latency: float = 0.01, loss: LossPattern = no_loss) -> None:
        self.clock = ManualClock()
        self.latency = latency
        self.loss = loss
        self.endpoints: dict[tuple[str, int], Endpoint] = {}
        self.wire: list[Wire] = []
        self._in_flight: list[tuple[float, int, bytes, Peer, Peer]] = []
        self._count = 0

    def add(
        self,
        name: str,
        addr: Peer,
        *,
        layer: TransactionLayer | None = None,
        handler: Handler | None = None,
    ) -> Endpoint:
        ep = Endpoint(self, name, addr, layer or TransactionLayer(), handler)
        self.endpoints[(addr.host, addr.port)] = ep
        return ep

    def flush(self) -> None:
        """Move every queued datagram of every endpoint onto the wire (or drop it)."""
        for ep in self.endpoints.values():
            for data, dst in ep.layer.datagrams_to_send():
                self._count += 1
                dropped = self.loss(self._count, data, ep.addr, dst)
                src = ep.addr
                self.wire.append(
                    Wire(self.clock.now, self._count, src, dst, start_line(data), dropped)
                )
                if not dropped:
                    arrival = self.clock.now + self.latency
                    heapq.heappush(self._in_flight, (arrival, self._count, data, src, dst))

    def _next_timer(self) -> tuple[float, Endpoint] | None:
        best: tuple[float, Endpoint] | None = None
        for ep in self.endpoints.values():
            when = ep.layer.next_timer()
            if when is not None and (best is None or when < best[0]):
                best = (when, ep)
        return best

    def step(self) -> bool:
        """Process the next delivery or timer; False when nothing is left to do."""
        self.flush()
        timer = self._next_timer()
        arrival = self._in_flight[0][0] if self._in_flight else None
        if arrival is not None and (timer is None or arrival <= timer[0]):
            _, _, data, src, dst = heapq.heappop(self._in_flight)
            self.clock.advance_to(max(self.clock.now, arrival))
            ep = self.endpoints.get((dst.host, dst.port))
            if ep is not None:
                # the receiver sees the sender's address with the receiver's transport
                peer = Peer(dst.transport, src.host, src.port)
                ep.dispatch(ep.layer.receive(decode(data), peer, self.clock.now))
        elif timer is not None:
            when, ep = timer
            self.clock.advance_to(max(self.clock.now, when))
            ep.dispatch(ep.layer.handle_timer(self.clock.now))
        else:
            return False
        self.flush()
        return True

    def run(self, until: float = 1000.0) -> None:
        """Run until nothing is pending or the next thing would happen after ``until``."""
        while True:
            self.flush()
            timer = self._next_timer()
            nxt = [t for t in (timer[0] if timer else None, self._first_arrival()) if t is not None]
            if not nxt or min(nxt) > until:
                return
            self.step()

    def _first_arrival(self) -> float | None:
        return self._in_flight[0][0] if self._in_flight else None

    def lines(self, *, dropped: bool | None = None) -> list[str]:
        """Start lines seen on the wire, optionally only the dropped or delivered ones."""
        return [w.line for w in self.wire if dropped is None or w.dropped == dropped]
