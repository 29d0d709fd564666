"""ClickPhone's built-in RTP relay (the data plane) and the in-process controller.

Each call has legs (two for an offer/answer pair, more in call flows); each leg owns an even
RTP port and RTCP on port+1 of the relay. A packet arriving on leg A's socket is sent from the
socket of the leg it is bridged to (B) to B's endpoint, and back, so each endpoint sees one
symmetric address (the one in the SDP we gave it). An offer/answer pair forwards packets
untouched (the fast path); a ``bridge`` maps payload types and transcodes PCMU<->PCMA with a
256-byte table (``bytes.translate``) when the two legs negotiated differently.

The relay as an endpoint: ``local_answer``/``local_offer``+``accept`` make a leg whose peer is
the relay itself. ``play`` decodes a file once (:class:`~clickphone.media.audio.PromptCache`,
in a thread) and one pacer task sends every playing leg a 20 ms frame per tick of the relay's
clock (catching up at most :data:`MAX_BURST` frames after a stall), with one SSRC and
continuous sequence numbers and timestamps per leg across plays (marker bit on each start).
Audio bridged into a leg is muted while something plays to it. ``record_leg`` records one
leg's packets mono through the same recorder as call recordings.

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
import random
import struct
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from clickphone.media.audio import FRAME_SAMPLES, G711, TRANSCODE, Prompt, PromptCache
from clickphone.media.control import (
    BadSdpError,
    CallStats,
    DtmfEvent,
    LegStats,
    MediaError,
    MediaEvent,
    NoPortsError,
    PlayDoneEvent,
    RecordingInfo,
    RtpTimeoutEvent,
    UnknownCallError,
)
from clickphone.media.recorder import CallRecording
from clickphone.rtp.dtmf import DtmfDetector, DtmfParseError
from clickphone.rtp.packet import payload_offset
from clickphone.sip.errors import SipPeerError
from clickphone.sip.sdp import Codec, SessionDescription, rewrite_connection

log = logging.getLogger(__name__)

Address = tuple[str, int]

_RecKey = tuple[str, str | None]  # (call_id, None) for a call recording, (call_id, tag)
TE = "telephone-event"
TE_PT = 101  # telephone-event payload type in the relay's own offers
FRAME_SECONDS = FRAME_SAMPLES / 8000
MAX_BURST = 5  # frames a player catches up after a stall; older ones are skipped


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
    prompt_cache: int = 32  # decoded audio files kept for play()


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
        "leg_recording",
        "max_datagram",
        "muted",
        "packets_in",
        "packets_out",
        "peer",
        "recording",
        "remote",
        "te_pts",
        "translate",
        "transport",
    )

    def __init__(self, leg: _Leg, max_datagram: int) -> None:
        self.leg = leg
        self.max_datagram = max_datagram
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: Address | None = None
        self.latched = False
        self.peer: _Endpoint | None = None
        # rewrites a packet for the peer (payload types, PCMU<->PCMA); None: as is
        self.translate: Callable[[bytes], bytes | None] | None = None
        self.muted = False  # something is played to this leg: forward nothing into it
        # payload types carrying telephone-event; always empty on RTCP sockets
        self.te_pts: frozenset[int] = frozenset()
        self.packets_in = self.bytes_in = self.packets_out = self.bytes_out = 0
        self.dropped = 0
        self.recording: CallRecording | None = None  # set on RTP endpoints while recording
        self.leg_recording: CallRecording | None = None  # this leg alone (record_leg)
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
        if (
            peer is not None
            and peer.remote is not None
            and peer.transport is not None
            and not peer.muted
        ):
            translate = self.translate
            out: bytes | None = data if translate is None else translate(data)
            if out is not None:
                peer.transport.sendto(out, peer.remote)
                peer.packets_out += 1
                peer.bytes_out += len(out)
        recording = self.recording
        if recording is not None:
            recording.feed(self.channel, data)
        recording = self.leg_recording
        if recording is not None:
            recording.feed(0, data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a departed endpoint: keep relaying
        self.dropped += 1

    def set_destination(self, addr: Address | None) -> None:
        """A destination from signaling; clears the latch if it changed."""
        if addr != self.remote or addr is None:
            self.latched = False
        if not self.latched:
            self.remote = addr


def _codec_name(codec: Codec) -> str:
    """``PCMU``/``PCMA``/``telephone-event`` for those, else ``name/rate[/channels]``."""
    key = codec.key
    if key == ("pcmu", 8000, 1):
        return "PCMU"
    if key == ("pcma", 8000, 1):
        return "PCMA"
    if key[0] == "telephone-event":
        return TE if key[1] == 8000 else f"{TE}/{key[1]}"
    tail = f"/{codec.channels}" if codec.channels != 1 else ""
    return f"{codec.encoding}/{codec.clock_rate}{tail}"


def _payload_types(codecs: Sequence[Codec]) -> dict[int, str]:
    return {c.payload_type: _codec_name(c) for c in codecs}


def _first_pt(pts: dict[int, str], name: str) -> int | None:
    return next((pt for pt, n in pts.items() if n == name), None)


_MIRROR = {"sendonly": "recvonly", "recvonly": "sendonly"}
_RTP_HEADER = struct.Struct("!BBHII")


class _Player:
    """A file being streamed to a leg; the relay's pacer sends its 20 ms frames."""

    __slots__ = ("leg", "loop", "play_id", "pos", "prompt", "started")

    def __init__(self, play_id: str, leg: _Leg, prompt: Prompt, loop: bool) -> None:
        self.play_id = play_id
        self.leg = leg
        self.prompt = prompt
        self.loop = loop
        self.pos = 0  # byte (= sample) offset of the next frame in the encoded file
        self.started = False  # the first frame (marker bit) has been sent


class _Leg:
    """One leg of a call: its tag, its port pair, what its SDP said and what we told it.

    ``own_pts`` are the payload types of the leg's own (remote) SDP, ``given_pts`` those of
    the SDP the leg got from us (the other leg's, rewritten, or the relay's own). ``codec``
    is the negotiated audio codec and ``tx_pts`` the payload types the leg expects for each
    negotiated codec (what we send it). ``pair`` is the other leg of an offer/answer pair.
    """

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
        self.pair: _Leg | None = None
        self.planned = False  # the link to the partner translates (see Relay._link)
        self.local = False  # the relay itself is this leg's endpoint
        self.offer_sdp: SessionDescription | None = None  # the leg's latest offer
        self.offered: list[str] | None = None  # codecs of our pending local offer
        self.own_pts: dict[int, str] = {}
        self.given_pts: dict[int, str] = {}
        self.codec: str | None = None
        self.tx_pts: dict[str, int] = {}
        self.negotiated = False
        # the relay as this leg's RTP sender (plays): SDP origin, SSRC, sequence, timestamp
        self.sdp_session = str(random.getrandbits(31))
        self.sdp_version = 0
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)  # timestamp of the next frame if continuous
        self.sent_at: float | None = None  # loop time of the last frame the relay sent
        self.player: _Player | None = None
        self.recording: CallRecording | None = None

    @property
    def partner(self) -> _Leg | None:
        """The leg this one's RTP is forwarded to (bridged), if any."""
        peer = self.rtp.peer
        return peer.leg if peer is not None else None

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
        self.own_pts = {}
        if audio is not None:
            self.direction = sdp.media_direction(audio)
            self.sdp_te_pts = audio.telephone_event_pts()
            self.own_pts = _payload_types(audio.codecs())
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

    def rx_pts(self) -> dict[int, str]:
        """Payload types this leg may send us: the ones we gave it, and its own numbers for
        the negotiated codecs."""
        out = {pt: n for pt, n in self.own_pts.items() if n in self.tx_pts}
        out.update(self.given_pts)
        return out

    def negotiate(self, codec: Codec, answer_pts: dict[int, str]) -> None:
        """The offer/answer exchange of this leg chose ``codec`` (+ the other ``answer_pts``);
        payload types to send it come from its own SDP where it lists the codec."""
        self.codec = _codec_name(codec)
        self.tx_pts = {}
        for pt, name in answer_pts.items():
            if name not in self.tx_pts:
                mine = _first_pt(self.own_pts, name)
                self.tx_pts[name] = pt if mine is None else mine
        self.negotiated = True

    def idle_seconds(self, now: float) -> float | None:
        if self.rtp.packets_in != self.seen_packets:
            return 0.0  # packets since the last tick: idle for less than a tick
        return None if self.last_activity is None else now - self.last_activity

    def stats(self, now: float) -> LegStats:
        remote = self.rtp.remote
        partner = self.partner
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
            codec=self.codec,
            local=self.local,
            bridged_to=partner.tag if partner is not None else None,
        )


def _is_usable_ip(host: str) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_unspecified


class _Call:
    def __init__(self, relay: Relay, call_id: str) -> None:
        self.relay = relay
        self.call_id = call_id
        self.created = time.monotonic()
        self.last_activity = self.created
        self.timed_out = False
        self.legs: list[_Leg] = []
        self.recording: CallRecording | None = None

    def add_leg(self, tag: str | None) -> _Leg:
        leg = _Leg(self, tag, self.relay.config)
        # a call recording has the first leg (the caller) left and every other leg right
        leg.rtp.channel = 0 if not self.legs else 1
        leg.rtp.recording = self.recording
        self.legs.append(leg)
        return leg

    def leg(self, tag: str) -> _Leg | None:
        for leg in self.legs:
            if leg.tag == tag:
                return leg
        return None

    def other(self, leg: _Leg) -> _Leg:
        """Where an offer from ``leg`` goes: its bridge partner, its pair, or itself."""
        return leg.partner or leg.pair or leg

    def refresh_te_pts(self) -> None:
        # the sender may use the PT numbers of its own SDP or of the one we gave it
        for leg in self.legs:
            given = {pt for pt, name in leg.given_pts.items() if name == TE}
            leg.rtp.te_pts = frozenset(leg.sdp_te_pts | given)

    @property
    def on_hold(self) -> bool:
        return any(leg.direction != "sendrecv" for leg in self.legs)


def _translator(src: _Leg, dst: _Leg) -> Callable[[bytes], bytes | None] | None:
    """How packets from ``src`` must change for ``dst`` (None: unchanged).

    Each payload type ``src`` may send maps to the type ``dst`` expects for the same codec,
    or — for the other G.711 law — to ``dst``'s codec through a transcoding table; anything
    ``dst`` did not negotiate is dropped.
    """
    table: dict[int, tuple[int, bytes | None]] = {}
    identity = True
    for pt, name in src.rx_pts().items():
        out_pt = dst.tx_pts.get(name)
        conv: bytes | None = None
        if out_pt is None and dst.codec is not None:
            conv = TRANSCODE.get((name, dst.codec))
            out_pt = dst.tx_pts.get(dst.codec) if conv is not None else None
        if out_pt is None:
            identity = False
            continue
        table[pt] = (out_pt, conv)
        if out_pt != pt or conv is not None:
            identity = False
    if identity:
        return None

    def translate(data: bytes) -> bytes | None:
        entry = table.get(data[1] & 0x7F)
        if entry is None:
            return None
        pt, conv = entry
        b1 = (data[1] & 0x80) | pt
        if conv is None:
            return data if b1 == data[1] else b"".join((data[:1], bytes((b1,)), data[2:]))
        try:
            start = payload_offset(data)
        except ValueError:
            return None
        end = len(data) - (data[-1] if data[0] & 0x20 else 0)
        if end < start:
            return None
        return b"".join(
            (data[:1], bytes((b1,)), data[2:start], data[start:end].translate(conv), data[end:])
        )

    return translate


class Relay:
    """The relay engine: calls, ports, the playback pacer and the periodic tick."""

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
        self._pacer_task: asyncio.Task[None] | None = None
        self._playing: dict[_Leg, _Player] = {}
        self.prompts = PromptCache(config.prompt_cache)
        # finished and finishing recordings by (call_id, None) for the call, (call_id, tag)
        # for one leg: a stop racing with delete (hang-up) waits for delete's stop
        self._finished: OrderedDict[_RecKey, RecordingInfo] = OrderedDict()
        self._stopping: dict[_RecKey, asyncio.Future[RecordingInfo]] = {}
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._tick_task is None:
            self._tick_task = asyncio.get_running_loop().create_task(self._tick_loop())

    async def close(self) -> None:
        for call_id in list(self._calls):
            await self.delete(call_id)
        for attr in ("_tick_task", "_pacer_task"):
            task: asyncio.Task[None] | None = getattr(self, attr)
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                setattr(self, attr, None)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def calls(self) -> int:
        return len(self._calls)

    @property
    def ports_in_use(self) -> int:
        """RTP/RTCP port pairs bound (one per leg)."""
        return sum(len(call.legs) for call in self._calls.values())

    # -- offer/answer between two SIP legs ---------------------------------------------------

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, media_ip: str) -> bytes:
        parsed = _parse(sdp)
        self.start()
        call = self._calls.get(call_id)
        if call is None:
            call = _Call(self, call_id)
            self._calls[call_id] = call
            a, b = call.add_leg(from_tag), call.add_leg(None)
            a.pair, b.pair = b, a
            try:
                await self._bind_leg(a)
                await self._bind_leg(b)
            except BaseException:
                await self.delete(call_id)
                raise
            self._link(a, b, planned=False)
            log.debug("%s - media anchored a=%d b=%d", call_id, a.port, b.port)
        leg = self._leg(call, from_tag)
        leg.apply_sdp(parsed)
        leg.offer_sdp = parsed
        other = call.other(leg)
        if other is not leg:
            other.given_pts = dict(leg.own_pts)
        call.refresh_te_pts()
        return _rewrite(parsed, media_ip, other.port)

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, media_ip: str
    ) -> bytes:
        parsed = _parse(sdp)
        call = self._call(call_id)
        offerer = self._leg(call, from_tag)
        answerer = call.leg(to_tag)
        if answerer is None or answerer is offerer:
            answerer = offerer.pair
            if answerer is None:
                raise UnknownCallError(f"call {call_id} has no leg tagged {to_tag!r}", 481)
            answerer.tag = to_tag  # first answer, or another fork took over
            answerer.rtp.set_destination(None)
            answerer.rtcp.set_destination(None)
        answerer.apply_sdp(parsed)
        offerer.given_pts = dict(answerer.own_pts)
        audio = parsed.audio()
        answered = audio.codecs() if audio is not None else []
        codec = next((c for c in answered if _codec_name(c) != TE), None)
        if codec is not None:  # both legs now use the answer's first codec
            answer_pts = _payload_types(answered)
            answerer.negotiate(codec, answer_pts)
            offerer.negotiate(codec, answer_pts)
        if answerer is offerer.pair and offerer.partner is not answerer:
            self._link(offerer, answerer, planned=offerer.local or answerer.local)
        else:
            self._replan(offerer)
        call.refresh_te_pts()
        return _rewrite(parsed, media_ip, offerer.port)

    # -- the relay as an endpoint -------------------------------------------------------------

    async def local_answer(self, call_id: str, tag: str, media_ip: str) -> bytes:
        _check_ip(media_ip)
        call = self._call(call_id)
        leg = self._leg(call, tag)
        offer = leg.offer_sdp
        audio = offer.audio() if offer is not None else None
        if offer is None or audio is None:
            raise MediaError(f"call {call_id}: leg {tag!r} has made no offer to answer")
        codecs = audio.codecs()
        chosen = next((c for c in codecs if _codec_name(c) in G711), None)
        if chosen is None:
            raise BadSdpError("the offer has neither PCMA nor PCMU", 488)
        te = next((c for c in codecs if _codec_name(c) == TE), None)
        answer = [chosen] if te is None else [chosen, te]
        direction = _MIRROR.get(offer.media_direction(audio), offer.media_direction(audio))
        body = self._our_sdp(leg, media_ip, answer, direction)
        leg.local = True
        leg.offered = None
        leg.given_pts = _payload_types(answer)
        leg.negotiate(chosen, leg.given_pts)
        if leg.pair is not None and leg.partner is leg.pair:
            self._unlink(leg)  # the relay answered: the offer/answer pair is not bridged
        else:
            self._replan(leg)
        call.refresh_te_pts()
        log.debug("%s - %s answered locally (%s)", call_id, tag, leg.codec)
        return body

    async def local_offer(
        self, call_id: str, tag: str, media_ip: str, codecs: Sequence[str] | None = None
    ) -> bytes:
        names = _codec_names(codecs) if codecs is not None else None
        _check_ip(media_ip)
        self.start()
        call = self._calls.get(call_id)
        created = call is None
        if call is None:
            call = _Call(self, call_id)
            self._calls[call_id] = call
        leg = call.leg(tag)
        if leg is None:
            leg = call.add_leg(tag)
            try:
                await self._bind_leg(leg)
            except BaseException:
                call.legs.remove(leg)
                if created:
                    await self.delete(call_id)
                raise
        if names is None:
            known = [g.codec for g in call.legs if g is not leg and g.codec in G711]
            names = known[:1] or ["PCMU", "PCMA"]
        offer = [Codec(G711[n][0], n, 8000) for n in names]
        offer.append(Codec(TE_PT, "telephone-event", 8000, fmtp="0-16"))
        body = self._our_sdp(leg, media_ip, offer, "sendrecv")
        leg.local = True
        leg.offered = names
        leg.given_pts = _payload_types(offer)
        call.refresh_te_pts()
        log.debug("%s - local offer to %s on port %d (%s)", call_id, tag, leg.port, names)
        return body

    async def accept(self, call_id: str, tag: str, sdp: bytes) -> None:
        parsed = _parse(sdp)
        call = self._call(call_id)
        leg = self._leg(call, tag)
        if leg.offered is None:
            raise MediaError(f"call {call_id}: leg {tag!r} has no local offer to accept")
        audio = parsed.audio()
        codecs = audio.codecs() if audio is not None else []
        chosen = next((c for c in codecs if _codec_name(c) in leg.offered), None)
        if chosen is None:
            raise BadSdpError(f"the answer picks none of the offered codecs {leg.offered}", 488)
        leg.apply_sdp(parsed)
        answer_pts = {pt: n for pt, n in leg.own_pts.items() if n in (_codec_name(chosen), TE)}
        leg.negotiate(chosen, answer_pts)
        leg.offered = None
        self._replan(leg)
        call.refresh_te_pts()

    async def bridge(self, call_id: str, tag_a: str, tag_b: str) -> None:
        call = self._call(call_id)
        a, b = self._leg(call, tag_a), self._leg(call, tag_b)
        if a is b:
            raise MediaError(f"call {call_id}: cannot bridge leg {tag_a!r} to itself")
        for leg in (a, b):
            if not leg.negotiated:
                raise MediaError(f"call {call_id}: leg {leg.tag!r} is not negotiated yet")
        if a.codec != b.codec and not (a.codec in G711 and b.codec in G711):
            raise BadSdpError(f"cannot bridge {a.codec} with {b.codec} (no transcoding)", 488)
        self._stop_player(a)
        self._stop_player(b)
        self._link(a, b, planned=True)
        log.debug("%s - bridged %s (%s) and %s (%s)", call_id, tag_a, a.codec, tag_b, b.codec)

    async def play(self, call_id: str, tag: str, path: str, loop: bool = False) -> str:
        leg = self._leg(self._call(call_id), tag)
        if leg.codec not in G711:
            raise MediaError(
                f"call {call_id}: leg {tag!r} has no negotiated PCMU/PCMA codec to play in", 488
            )
        prompt = await self.prompts.get(path)
        call = self._calls.get(call_id)  # the call may have ended while decoding
        if call is None or leg not in call.legs:
            raise UnknownCallError(f"call {call_id} ended before playing {path}")
        self._stop_player(leg)
        play_id = uuid.uuid4().hex[:16]
        player = _Player(play_id, leg, prompt, loop)
        leg.player = player
        leg.rtp.muted = True
        self._playing[leg] = player
        if self._pacer_task is None or self._pacer_task.done():
            self._pacer_task = asyncio.get_running_loop().create_task(self._pace())
        log.debug("%s > play %s to %s (%.1f s, %s)", call_id, path, tag, prompt.seconds, play_id)
        return play_id

    async def stop_play(self, call_id: str, tag: str) -> None:
        self._stop_player(self._leg(self._call(call_id), tag))

    async def record_leg(self, call_id: str, tag: str, path: str) -> None:
        leg = self._leg(self._call(call_id), tag)
        if leg.recording is not None:
            return
        try:
            recording = CallRecording(call_id, Path(path), self._recorder(), channels=1)
        except (OSError, ValueError) as exc:
            raise MediaError(f"cannot record {call_id}/{tag} to {path}: {exc}") from exc
        leg.recording = leg.rtp.leg_recording = recording
        log.info("%s - recording leg %s to %s", call_id, tag, recording.path)

    async def stop_record_leg(self, call_id: str, tag: str) -> RecordingInfo:
        call = self._calls.get(call_id)
        leg = call.leg(tag) if call is not None else None
        if leg is not None and leg.recording is not None:
            return await self._stop_leg_recording(leg)
        return await self._stopped((call_id, tag), f"leg {tag!r} of call {call_id}")

    # -- teardown, stats, call recording -----------------------------------------------------

    async def delete(self, call_id: str) -> None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return
        for leg in call.legs:
            self._stop_player(leg)
        # start every stop before the first await, so a racing stop_* finds it in _stopping
        stops: list[tuple[str, asyncio.Future[RecordingInfo]]] = []
        if call.recording is not None:
            stops.append(("call", self._stop_recording(call)))
        for leg in call.legs:
            if leg.recording is not None:
                stops.append((f"leg {leg.tag}", self._stop_leg_recording(leg)))
        for what, stop in stops:
            try:
                await stop
            except (OSError, ValueError, MediaError) as exc:
                log.warning("%s x recording of the %s failed: %s", call_id, what, exc)
        pending: list[asyncio.Future[None]] = []
        for leg in call.legs:
            for ep in (leg.rtp, leg.rtcp):
                if ep.transport is not None:
                    ep.transport.close()
                    pending.append(ep.closed)
        if pending:  # wait until the sockets are really closed, so the ports are free
            await asyncio.wait(pending, timeout=1.0)
        if self._ports is not None:
            for leg in call.legs:
                if leg.port:
                    self._ports.release(leg.port)
        log.debug("%s - media deleted", call_id)

    def query(self, call_id: str) -> CallStats:
        call = self._call(call_id)
        now = time.monotonic()
        return CallStats(
            call_id=call_id,
            age_seconds=now - call.created,
            legs=[leg.stats(now) for leg in call.legs],
        )

    async def start_recording(self, call_id: str, path: str) -> None:
        """Record the call into ``path`` (.ogg Opus, .mp3 or .wav); idempotent while on."""
        call = self._call(call_id)
        if call.recording is not None:
            return
        try:
            recording = CallRecording(call_id, Path(path), self._recorder())
        except (OSError, ValueError) as exc:
            raise MediaError(f"cannot record {call_id} to {path}: {exc}") from exc
        call.recording = recording
        for leg in call.legs:
            leg.rtp.recording = recording
        log.info("%s - recording to %s", call_id, recording.path)

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        """Stop and finish the file; after ``delete`` returns what that stop produced."""
        call = self._calls.get(call_id)
        if call is not None and call.recording is not None:
            return await self._stop_recording(call)
        return await self._stopped((call_id, None), f"call {call_id}")

    async def _stopped(self, key: _RecKey, what: str) -> RecordingInfo:
        """The info of a recording stopped before (or being stopped right now)."""
        stopping = self._stopping.get(key)
        if stopping is not None:
            return await asyncio.shield(stopping)
        info = self._finished.get(key)
        if info is None:
            raise UnknownCallError(f"{what} is not being recorded")
        return info

    def _stop_recording(self, call: _Call) -> asyncio.Future[RecordingInfo]:
        recording = call.recording
        assert recording is not None
        call.recording = None
        for leg in call.legs:
            leg.rtp.recording = None
        return self._finish((call.call_id, None), recording)

    def _stop_leg_recording(self, leg: _Leg) -> asyncio.Future[RecordingInfo]:
        recording = leg.recording
        assert recording is not None
        leg.recording = leg.rtp.leg_recording = None
        return self._finish((leg.call.call_id, leg.tag or ""), recording)

    def _finish(self, key: _RecKey, recording: CallRecording) -> asyncio.Future[RecordingInfo]:
        async def finish() -> RecordingInfo:
            what = key[0] if key[1] is None else f"{key[0]}/{key[1]}"
            try:
                info = await recording.stop()
            except (OSError, ValueError) as exc:
                raise MediaError(f"recording of {what} failed: {exc}") from exc
            self._finished[key] = info
            while len(self._finished) > 20000:
                self._finished.popitem(last=False)
            log.info("%s - recorded %.1f s to %s", what, info.duration_seconds, info.path)
            return info

        future = asyncio.ensure_future(finish())
        self._stopping[key] = future

        def forget(done: asyncio.Future[RecordingInfo]) -> None:
            if self._stopping.get(key) is done:
                del self._stopping[key]

        future.add_done_callback(forget)
        return future

    # -- internals -------------------------------------------------------------------------

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise UnknownCallError(f"no media session for call {call_id}")
        return call

    @staticmethod
    def _leg(call: _Call, tag: str) -> _Leg:
        leg = call.leg(tag)
        if leg is None:
            raise UnknownCallError(f"call {call.call_id} has no leg tagged {tag!r}", 481)
        return leg

    def _recorder(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="recorder")
        return self._executor

    @staticmethod
    def _our_sdp(leg: _Leg, media_ip: str, codecs: list[Codec], direction: str) -> bytes:
        leg.sdp_version += 1
        try:
            sdp = SessionDescription.new(
                media_ip,
                leg.port,
                codecs,
                session_id=leg.sdp_session,
                version=leg.sdp_version,
                direction=direction,
            )
        except ValueError as exc:  # media_ip is not an IP address: our configuration's fault
            raise MediaError(f"bad media_ip {media_ip!r}: {exc}") from exc
        return sdp.serialize()

    def _unlink(self, leg: _Leg) -> None:
        partner = leg.partner
        for g in (leg, partner):
            if g is not None:
                g.rtp.peer = g.rtcp.peer = None
                g.rtp.translate = None
                g.planned = False

    def _link(self, a: _Leg, b: _Leg, *, planned: bool) -> None:
        """Forward RTP and RTCP between ``a`` and ``b``; ``planned`` links map payload types
        and transcode (bridges); offer/answer pairs forward packets untouched."""
        self._unlink(a)
        self._unlink(b)
        a.rtp.peer, b.rtp.peer = b.rtp, a.rtp
        a.rtcp.peer, b.rtcp.peer = b.rtcp, a.rtcp
        a.planned = b.planned = planned
        self._replan(a)

    @staticmethod
    def _replan(leg: _Leg) -> None:
        partner = leg.partner
        if partner is None or not leg.planned:
            return
        leg.rtp.translate = _translator(leg, partner)
        partner.rtp.translate = _translator(partner, leg)

    def _stop_player(self, leg: _Leg) -> None:
        if leg.player is not None:
            self._playing.pop(leg, None)
            leg.player = None
            leg.rtp.muted = False

    async def _pace(self) -> None:
        """Send every playing leg its 20 ms frames on one clock; catch up at most
        :data:`MAX_BURST` frames after a stall (older frames are skipped, time moves on)."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        done = 0  # frame slots handled since t0
        while self._playing:
            delay = t0 + (done + 1) * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            due = int((now - t0) / FRAME_SECONDS)
            count = max(1, due - done)
            done += count
            skip = max(0, count - MAX_BURST)
            for player in list(self._playing.values()):
                self._send_frames(player, count - skip, skip, now)

    def _send_frames(self, player: _Player, count: int, skip: int, now: float) -> None:
        leg = player.leg
        codec = leg.codec or ""
        pt = leg.tx_pts.get(codec) if codec in G711 else None
        if pt is None:
            self._stop_player(leg)  # renegotiated away from G.711
            return
        data = player.prompt.encode(codec)
        ep = leg.rtp
        for i in range(skip + count):
            if player.pos >= len(data):
                if not player.loop or not data:
                    self._stop_player(leg)
                    call = leg.call
                    log.debug("%s - play %s to %s done", call.call_id, player.play_id, leg.tag)
                    self._emit(PlayDoneEvent(call.call_id, leg.tag or "", player.play_id))
                    return
                player.pos = 0
            marker = 0
            if not player.started:
                player.started = True
                marker = 0x80
                if leg.sent_at is not None:  # keep the clock running across plays
                    gap = round((now - leg.sent_at) / FRAME_SECONDS) - 1
                    leg.ts += FRAME_SAMPLES * max(0, gap)
            if i >= skip and ep.transport is not None and ep.remote is not None:
                payload = data[player.pos : player.pos + FRAME_SAMPLES]
                packet = _RTP_HEADER.pack(0x80, marker | pt, leg.seq, leg.ts, leg.ssrc) + payload
                ep.transport.sendto(packet, ep.remote)
                ep.packets_out += 1
                ep.bytes_out += len(packet)
                leg.seq = (leg.seq + 1) & 0xFFFF
            leg.sent_at = now
            player.pos += FRAME_SAMPLES
            leg.ts = (leg.ts + FRAME_SAMPLES) & 0xFFFFFFFF

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
        """Activity bookkeeping, RTP timeouts and lost-End DTMF flushes (time passed in).

        Activity is what the legs *send*: RTP the relay plays to a leg does not keep a call
        alive whose remote ends are silent."""
        for call in list(self._calls.values()):
            if call.recording is not None:
                call.recording.tick(now)
            active = False
            for leg in call.legs:
                if leg.recording is not None:
                    leg.recording.tick(now)
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


def _check_ip(media_ip: str) -> None:
    try:
        ipaddress.ip_address(media_ip)
    except ValueError as exc:  # our configuration's fault, not the peer's
        raise MediaError(f"bad media_ip {media_ip!r}: {exc}") from exc


def _codec_names(codecs: Sequence[str]) -> list[str]:
    """``["pcma", "PCMU/8000"]`` -> ``["PCMA", "PCMU"]``; only G.711 can be offered."""
    names: list[str] = []
    for spec in codecs:
        name = spec.split("/", 1)[0].upper()
        if name not in G711:
            raise MediaError(f"cannot offer {spec!r}: the relay generates PCMU or PCMA only")
        if name not in names:
            names.append(name)
    if not names:
        raise MediaError("local_offer needs at least one codec")
    return names


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

    async def local_answer(self, call_id: str, tag: str, *, media_ip: str) -> bytes:
        return await self.relay.local_answer(call_id, tag, media_ip)

    async def local_offer(
        self,
        call_id: str,
        tag: str,
        *,
        media_ip: str,
        codecs: Sequence[str] | None = None,
    ) -> bytes:
        return await self.relay.local_offer(call_id, tag, media_ip, codecs)

    async def accept(self, call_id: str, tag: str, sdp: bytes) -> None:
        await self.relay.accept(call_id, tag, sdp)

    async def bridge(self, call_id: str, tag_a: str, tag_b: str) -> None:
        await self.relay.bridge(call_id, tag_a, tag_b)

    async def play(self, call_id: str, tag: str, path: str, *, loop: bool = False) -> str:
        return await self.relay.play(call_id, tag, path, loop)

    async def stop_play(self, call_id: str, tag: str) -> None:
        await self.relay.stop_play(call_id, tag)

    async def record_leg(self, call_id: str, tag: str, path: str) -> None:
        await self.relay.record_leg(call_id, tag, path)

    async def stop_record_leg(self, call_id: str, tag: str) -> RecordingInfo:
        return await self.relay.stop_record_leg(call_id, tag)

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
