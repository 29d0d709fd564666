"""ClickPhone's built-in RTP relay (the data plane) and the in-process controller.

Each call has two legs; each leg owns an even RTP port and RTCP on port+1 of the relay.
A packet arriving on leg A's socket is sent from leg B's socket to B's endpoint, and back,
so each endpoint sees one symmetric address (the one in the SDP we gave it).

Symmetric latching (NAT): a leg's destination starts as the address in its SDP and is
re-latched to the source of the first packet actually received on that leg; afterwards
packets from other sources are dropped (counted). A new SDP with a different address for
the leg (re-INVITE) clears the latch.

Recording (``start_recording``/``stop_recording``, rtpengine's commands of the same names): the
RTP endpoint of each leg hands its packets to a :class:`~clickphone.media.recorder.
CallRecording` (leg A left, leg B right) after forwarding them; the tick drains the aligned
audio to an encoder thread. ``delete`` stops a running recording and keeps its
:class:`~clickphone.media.recorder.RecordingInfo` for a later ``stop_recording``.

RFC 4733 telephone-event packets are recognised by payload type on the fly and turned into
one :class:`~clickphone.media.control.DtmfEvent` per key press; RTP is still forwarded as is.

The hot path is one tuple compare, a few counter increments and one ``sendto``. The stock
asyncio datagram transport's read size is capped (``max_size``) — a large measured win; with
uvloop (used by the worker) the read buffer is fixed. Datagrams of ``max_datagram`` bytes or
more are dropped as possibly truncated.

Default deployment: ``clickphone serve`` should run the relay in a uvloop worker process
(:mod:`clickphone.media.worker`) so relaying never delays SIP and HTTP on the main loop;
:class:`LocalMediaController` runs it in the current loop, for tests and tiny installs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from clickphone.media.control import (
    BadSdpError,
    CallStats,
    DtmfEvent,
    LegStats,
    MediaError,
    MediaEvent,
    NoPortsError,
    RecordingInfo,
    RtpTimeoutEvent,
    UnknownCallError,
)
from clickphone.media.recorder import CallRecording
from clickphone.rtp.dtmf import DtmfDetector, DtmfParseError
from clickphone.rtp.packet import payload_offset
from clickphone.sip.errors import SipPeerError
from clickphone.sip.sdp import SessionDescription, rewrite_connection

log = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(slots=True)
class RelayConfig:
    """Relay settings. ``port_min``/``port_max`` of None means ephemeral ports (tests)."""

    bind_ip: str = "0.0.0.0"
    port_min: int | None = 20000
    port_max: int | None = 30000
    rtp_timeout: float = 60.0
    tick_interval: float = 1.0
    dtmf_flush_after: float = 1.0  # report a digit whose End packets were all lost
    max_datagram: int = 2048


class PortAllocator:
    """Even RTP ports in [port_min, port_max) whose RTCP port+1 is also in range.

    Freed ports go to the back of the queue so a just-freed port is reused last (late packets
    of an old call do not leak into a new one).
    """

    def __init__(self, port_min: int, port_max: int) -> None:
        if port_min < 1024 or port_max > 65536 or port_min >= port_max:
            raise ValueError(f"bad RTP port range {port_min}-{port_max}")
        first = port_min + (port_min % 2)
        self._free: deque[int] = deque(range(first, port_max - 1, 2))
        self._used: set[int] = set()
        self.capacity = len(self._free)

    def acquire(self) -> int:
        if not self._free:
            raise NoPortsError(f"RTP port range exhausted ({self.capacity} pairs in use)")
        port = self._free.popleft()
        self._used.add(port)
        return port

    def release(self, port: int) -> None:
        if port in self._used:
            self._used.remove(port)
            self._free.append(port)

    @property
    def in_use(self) -> int:
        return len(self._used)


class _Endpoint(asyncio.DatagramProtocol):
    """One relay socket: the RTP or the RTCP port of a leg."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "channel",
        "closed",
        "dropped",
        "latched",
        "leg",
        "max_datagram",
        "packets_in",
        "packets_out",
        "peer",
        "recording",
        "remote",
        "te_pts",
        "transport",
    )

    def __init__(self, leg: _Leg, max_datagram: int) -> None:
        self.leg = leg
        self.max_datagram = max_datagram
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: Address | None = None
        self.latched = False
        self.peer: _Endpoint | None = None
        # payload types carrying telephone-event; always empty on RTCP sockets
        self.te_pts: frozenset[int] = frozenset()
        self.packets_in = self.bytes_in = self.packets_out = self.bytes_out = 0
        self.dropped = 0
        self.recording: CallRecording | None = None  # set on RTP endpoints while recording
        self.channel = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # the selector datagram transport is not a DatagramTransport subclass: cast
        self.transport = cast(asyncio.DatagramTransport, transport)
        if hasattr(transport, "max_size"):
            # stock asyncio reads 256 KiB per recvfrom by default: cap it (big speed-up)
            transport.max_size = self.max_datagram

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not self.latched or addr != self.remote:
            if self.latched:
                self.dropped += 1
                return
            self.remote = (addr[0], addr[1])
            self.latched = True
        n = len(data)
        if n >= self.max_datagram:
            self.dropped += 1
            return
        self.packets_in += 1
        self.bytes_in += n
        if self.te_pts and n >= 16 and (data[1] & 0x7F) in self.te_pts:
            self.leg.on_telephone_event(data)
        peer = self.peer
        if peer is not None and peer.remote is not None and peer.transport is not None:
            peer.transport.sendto(data, peer.remote)
            peer.packets_out += 1
            peer.bytes_out += n
        recording = self.recording
        if recording is not None:
            recording.feed(self.channel, data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a departed endpoint: keep relaying
        self.dropped += 1

    def set_destination(self, addr: Address | None) -> None:
        """A destination from signaling; clears the latch if it changed."""
        if addr != self.remote or addr is None:
            self.latched = False
        if not self.latched:
            self.remote = addr


class _Leg:
    """One side of a call: its tag, its port pair and what its SDP said."""

    def __init__(self, call: _Call, tag: str | None, config: RelayConfig) -> None:
        self.call = call
        self.tag = tag
        self.port = 0
        self.rtp = _Endpoint(self, config.max_datagram)
        self.rtcp = _Endpoint(self, config.max_datagram)
        self.direction = "sendrecv"
        self.sdp_te_pts: set[int] = set()
        self.detector = DtmfDetector()
        self.last_te = 0.0
        self.last_activity: float | None = None
        self.seen_packets = 0

    def on_telephone_event(self, data: bytes) -> None:
        try:
            offset = payload_offset(data)
            ssrc = int.from_bytes(data[8:12], "big")
            timestamp = int.from_bytes(data[4:8], "big")
            digits = self.detector.feed(ssrc, timestamp, data[offset:])
        except (ValueError, DtmfParseError):
            return
        self.last_te = time.monotonic()
        for d in digits:
            self.call.relay.emit_dtmf(self, d.digit, d.duration_ms)

    def apply_sdp(self, sdp: SessionDescription) -> None:
        audio = sdp.audio()
        self.direction = "inactive"
        rtp_addr: Address | None = None
        rtcp_addr: Address | None = None
        self.sdp_te_pts = set()
        if audio is not None:
            self.direction = sdp.media_direction(audio)
            self.sdp_te_pts = audio.telephone_event_pts()
            conn = sdp.media_connection(audio)
            host = conn.host if conn is not None else ""
            if _is_usable_ip(host):
                rtp_addr = (host, audio.port)
                rtcp = audio.rtcp
                if rtcp is None:
                    rtcp_addr = (host, audio.port + 1)
                else:
                    rtcp_host = rtcp[1].host if rtcp[1] is not None else host
                    rtcp_addr = (rtcp_host, rtcp[0]) if _is_usable_ip(rtcp_host) else None
        self.rtp.set_destination(rtp_addr)
        self.rtcp.set_destination(rtcp_addr)

    def idle_seconds(self, now: float) -> float | None:
        if self.rtp.packets_in != self.seen_packets:
            return 0.0  # packets since the last tick: idle for less than a tick
        return None if self.last_activity is None else now - self.last_activity

    def stats(self, now: float) -> LegStats:
        remote = self.rtp.remote
        return LegStats(
            tag=self.tag,
            local_port=self.port,
            remote=f"{remote[0]}:{remote[1]}" if remote else None,
            latched=self.rtp.latched,
            direction=self.direction,
            packets_in=self.rtp.packets_in,
            bytes_in=self.rtp.bytes_in,
            packets_out=self.rtp.packets_out,
            bytes_out=self.rtp.bytes_out,
            dropped=self.rtp.dropped + self.rtcp.dropped,
            rtcp_in=self.rtcp.packets_in,
            rtcp_out=self.rtcp.packets_out,
            idle_seconds=self.idle_seconds(now),
        )


def _is_usable_ip(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_unspecified


class _Call:
    def __init__(self, relay: Relay, call_id: str, a_tag: str) -> None:
        self.relay = relay
        self.call_id = call_id
        self.created = time.monotonic()
        self.last_activity = self.created
        self.timed_out = False
        self.a = _Leg(self, a_tag, relay.config)
        self.b = _Leg(self, None, relay.config)
        self.a.rtp.peer, self.b.rtp.peer = self.b.rtp, self.a.rtp
        self.a.rtcp.peer, self.b.rtcp.peer = self.b.rtcp, self.a.rtcp
        self.b.rtp.channel = 1
        self.recording: CallRecording | None = None

    def leg(self, tag: str) -> _Leg | None:
        if self.a.tag == tag:
            return self.a
        if self.b.tag == tag:
            return self.b
        return None

    def other(self, leg: _Leg) -> _Leg:
        return self.b if leg is self.a else self.a

    def refresh_te_pts(self) -> None:
        # the sender may use the PT numbers of either SDP; detect both
        pts = frozenset(self.a.sdp_te_pts | self.b.sdp_te_pts)
        self.a.rtp.te_pts = self.b.rtp.te_pts = pts

    @property
    def on_hold(self) -> bool:
        return self.a.direction != "sendrecv" or self.b.direction != "sendrecv"


class Relay:
    """The relay engine: calls, ports and the periodic timeout/DTMF-flush tick."""

    def __init__(self, config: RelayConfig, emit: Callable[[MediaEvent], None]) -> None:
        self.config = config
        self._emit = emit
        self._calls: dict[str, _Call] = {}
        self._ports = (
            PortAllocator(config.port_min, config.port_max)
            if config.port_min is not None and config.port_max is not None
            else None
        )
        self._tick_task: asyncio.Task[None] | None = None
        self._finished: OrderedDict[str, RecordingInfo] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._tick_task is None:
            self._tick_task = asyncio.get_running_loop().create_task(self._tick_loop())

    async def close(self) -> None:
        for call_id in list(self._calls):
            await self.delete(call_id)
        if self._tick_task is not None:
            self._tick_task.cancel()
            try:
                await self._tick_task
            except asyncio.CancelledError:
                pass
            self._tick_task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def calls(self) -> int:
        return len(self._calls)

    @property
    def ports_in_use(self) -> int:
        return 2 * len(self._calls)

    # -- commands --------------------------------------------------------------------------

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, media_ip: str) -> bytes:
        parsed = _parse(sdp)
        self.start()
        call = self._calls.get(call_id)
        if call is None:
            call = _Call(self, call_id, from_tag)
            self._calls[call_id] = call
            try:
                await self._bind_leg(call.a)
                await self._bind_leg(call.b)
            except BaseException:
                await self.delete(call_id)
                raise
            log.debug("%s - media anchored a=%d b=%d", call_id, call.a.port, call.b.port)
        leg = call.leg(from_tag)
        if leg is None:
            raise UnknownCallError(f"call {call_id} has no leg tagged {from_tag!r}", 481)
        leg.apply_sdp(parsed)
        call.refresh_te_pts()
        return _rewrite(parsed, media_ip, call.other(leg).port)

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, media_ip: str
    ) -> bytes:
        parsed = _parse(sdp)
        call = self._call(call_id)
        offerer = call.leg(from_tag)
        if offerer is None:
            raise UnknownCallError(f"call {call_id} has no leg tagged {from_tag!r}", 481)
        answerer = call.other(offerer)
        if answerer.tag != to_tag:
            answerer.tag = to_tag  # first answer, or another fork took over
            answerer.rtp.set_destination(None)
            answerer.rtcp.set_destination(None)
        answerer.apply_sdp(parsed)
        call.refresh_te_pts()
        return _rewrite(parsed, media_ip, offerer.port)

    async def delete(self, call_id: str) -> None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return
        if call.recording is not None:
            try:
                await self._stop_recording(call)
            except (OSError, ValueError, MediaError) as exc:
                log.warning("%s x recording failed: %s", call_id, exc)
        pending: list[asyncio.Future[None]] = []
        for ep in (call.a.rtp, call.a.rtcp, call.b.rtp, call.b.rtcp):
            if ep.transport is not None:
                ep.transport.close()
                pending.append(ep.closed)
        if pending:  # wait until the sockets are really closed, so the ports are free
            await asyncio.wait(pending, timeout=1.0)
        if self._ports is not None:
            for leg in (call.a, call.b):
                if leg.port:
                    self._ports.release(leg.port)
        log.debug("%s - media deleted", call_id)

    def query(self, call_id: str) -> CallStats:
        call = self._call(call_id)
        now = time.monotonic()
        return CallStats(
            call_id=call_id,
            age_seconds=now - call.created,
            legs=[call.a.stats(now), call.b.stats(now)],
        )

    async def start_recording(self, call_id: str, path: str) -> None:
        """Record the call into ``path`` (.ogg Opus, .mp3 or .wav); idempotent while on."""
        call = self._call(call_id)
        if call.recording is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        try:
            recording = CallRecording(call_id, Path(path), self._executor)
        except (OSError, ValueError) as exc:
            raise MediaError(f"cannot record {call_id} to {path}: {exc}") from exc
        call.recording = recording
        call.a.rtp.recording = call.b.rtp.recording = recording
        log.info("%s - recording to %s", call_id, recording.path)

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        """Stop and finish the file; after ``delete`` returns what that stop produced."""
        call = self._calls.get(call_id)
        if call is not None and call.recording is not None:
            return await self._stop_recording(call)
        info = self._finished.get(call_id)
        if info is None:
            raise UnknownCallError(f"call {call_id} is not being recorded")
        return info

    async def _stop_recording(self, call: _Call) -> RecordingInfo:
        recording = call.recording
        assert recording is not None
        call.recording = call.a.rtp.recording = call.b.rtp.recording = None
        try:
            info = await recording.stop()
        except (OSError, ValueError) as exc:
            raise MediaError(f"recording of {call.call_id} failed: {exc}") from exc
        self._finished[call.call_id] = info
        while len(self._finished) > 10000:
            self._finished.popitem(last=False)
        log.info("%s - recorded %.1f s to %s", call.call_id, info.duration_seconds, info.path)
        return info

    # -- internals -------------------------------------------------------------------------

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise UnknownCallError(f"no media session for call {call_id}")
        return call

    async def _bind_leg(self, leg: _Leg) -> None:
        loop = asyncio.get_running_loop()
        ip = self.config.bind_ip
        attempts = 64 if self._ports is None else max(1, min(self._ports.capacity, 64))
        for _ in range(attempts):
            port = self._ports.acquire() if self._ports is not None else 0
            rtp_tr: asyncio.DatagramTransport | None = None
            try:
                rtp_tr, _ = await loop.create_datagram_endpoint(
                    lambda: leg.rtp, local_addr=(ip, port)
                )
                actual = int(rtp_tr.get_extra_info("sockname")[1])
                if actual % 2:
                    raise OSError("odd ephemeral port")
                await loop.create_datagram_endpoint(lambda: leg.rtcp, local_addr=(ip, actual + 1))
            except OSError:
                if rtp_tr is not None:
                    rtp_tr.close()
                    await leg.rtp.closed
                    leg.rtp.closed = loop.create_future()
                if self._ports is not None:
                    self._ports.release(port)  # back of the queue; try the next pair
                continue
            leg.port = actual
            return
        raise NoPortsError("could not bind an RTP/RTCP port pair")

    def emit_dtmf(self, leg: _Leg, digit: str, duration_ms: int) -> None:
        call = leg.call
        log.debug("%s < DTMF %s from %s (%d ms)", call.call_id, digit, leg.tag, duration_ms)
        self._emit(DtmfEvent(call.call_id, leg.tag or "", digit, duration_ms))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.tick_interval)
            self.tick(time.monotonic())

    def tick(self, now: float) -> None:
        """Activity bookkeeping, RTP timeouts and lost-End DTMF flushes (time passed in)."""
        for call in list(self._calls.values()):
            if call.recording is not None:
                call.recording.tick(now)
            active = False
            for leg in (call.a, call.b):
                count = leg.rtp.packets_in
                if count != leg.seen_packets:
                    leg.seen_packets = count
                    leg.last_activity = now
                    active = True
                if leg.last_te and now - leg.last_te >= self.config.dtmf_flush_after:
                    leg.last_te = 0.0
                    for d in leg.detector.flush():
                        self.emit_dtmf(leg, d.digit, d.duration_ms)
            if active or call.on_hold:
                call.last_activity = now
                call.timed_out = False
            elif not call.timed_out and now - call.last_activity >= self.config.rtp_timeout:
                call.timed_out = True
                idle = now - call.last_activity
                log.info("%s x RTP timeout after %.0f s", call.call_id, idle)
                self._emit(RtpTimeoutEvent(call.call_id, round(idle, 3)))


def _parse(sdp: bytes) -> SessionDescription:
    try:
        parsed = SessionDescription.parse(sdp)
    except SipPeerError as exc:
        raise BadSdpError(str(exc), exc.status_hint) from exc
    if not any(m.kind == "audio" for m in parsed.media):
        raise BadSdpError("SDP has no audio stream", 488)
    return parsed


def _rewrite(sdp: SessionDescription, media_ip: str, port: int) -> bytes:
    try:
        return rewrite_connection(sdp, media_ip, port).serialize()
    except ValueError as exc:  # media_ip is not an IP address: our configuration's fault
        raise MediaError(f"bad media_ip {media_ip!r}: {exc}") from exc


class LocalMediaController:
    """:class:`~clickphone.media.control.MediaController` running the relay in this loop."""

    def __init__(self, config: RelayConfig | None = None) -> None:
        self.config = config or RelayConfig()
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self.relay = Relay(self.config, self._events.put_nowait)
        self._closed = False

    async def __aenter__(self) -> LocalMediaController:
        self.relay.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, *, media_ip: str) -> bytes:
        return await self.relay.offer(call_id, from_tag, sdp, media_ip)

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, *, media_ip: str
    ) -> bytes:
        return await self.relay.answer(call_id, from_tag, to_tag, sdp, media_ip)

    async def delete(self, call_id: str) -> None:
        await self.relay.delete(call_id)

    async def query(self, call_id: str) -> CallStats:
        return self.relay.query(call_id)

    async def start_recording(self, call_id: str, path: str) -> None:
        await self.relay.start_recording(call_id, path)

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        return await self.relay.stop_recording(call_id)

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.relay.close()
        self._events.put_nowait(None)
