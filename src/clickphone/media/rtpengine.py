""":class:`~clickphone.media.control.MediaController` backed by rtpengine (Sipwise).

Production can replace ClickPhone's built-in relay with rtpengine; the B2BUA does not change.
This module speaks rtpengine's *ng* control protocol: one UDP datagram per request,
``<cookie> <bencoded dictionary>``, answered by ``<cookie> <bencoded dictionary>`` whose
``result`` is ``ok`` (or ``pong``) or ``error`` with an ``error-reason``. rtpengine caches
answers by cookie, so a request is retransmitted with the same cookie until it is answered or
``request_timeout`` passes (then :class:`~clickphone.media.control.WorkerUnavailableError`).

Mapping of the :class:`~clickphone.media.control.MediaController` commands:

* ``offer``/``answer`` → ng ``offer``/``answer`` with ``replace: [origin, session-connection]``
  and ``ICE: remove`` so the SDP handed on looks like our relay's (rtpengine's address and
  ports, no ICE). Symmetric RTP latching is rtpengine's default (``--endpoint-learning``).
  rtpengine advertises the address of its ``--interface``; ``media_ip`` is ignored (configure
  ``--interface=NAME/LOCAL!PUBLIC`` for a public address behind NAT).
* ``delete`` → ng ``delete`` (an unknown call-id is ignored, as the protocol requires).
* ``query`` → ng ``query``; one :class:`~clickphone.media.control.LegStats` per tag with the
  packets rtpengine received from that leg (``packets_in``) and, since rtpengine counts per
  stream what it received, ``packets_out`` of a leg is what the other leg sent in.
* ``start_recording``/``stop_recording``: rtpengine records to its own ``--recording-dir``
  (pcap, or files written by the separate ``rtpengine-recording`` daemon), not to a path the
  caller chooses, and ng cannot tell where or how long; both raise
  :class:`~clickphone.media.control.MediaError` with status hint 501. Record on the built-in
  relay, or wire rtpengine-recording's output into ``recordings`` (future work).
* The relay-as-endpoint commands used by call flows (IVR, greetings, voicemail, queue music,
  click-to-call) — ``local_answer``, ``local_offer``, ``accept``, ``bridge``, ``play``,
  ``stop_play``, ``record_leg``, ``stop_record_leg`` — raise
  :class:`~clickphone.media.control.UnsupportedError` (``unsupported``, 501): call flows need
  the built-in relay (the worker or local media mode). ng ``play media`` is not used for
  ``play``: it acts only on streams rtpengine anchors through an offer/answer (there is no
  locally answered leg to play to) and ng has no push event for the end of a file, so
  :class:`~clickphone.media.control.PlayDoneEvent` could not be reported.

Events (:meth:`RtpengineMediaController.events`):

* DTMF — rtpengine 10.5 does not push events over ng UDP. It can send one JSON object per
  RFC 4733 key press over UDP to ``--dtmf-log-dest=IP:PORT``. Pass ``dtmf_listen`` to open
  such a socket (its address is :attr:`RtpengineMediaController.events_address`; start
  rtpengine with ``--dtmf-log-dest`` pointing there) and :class:`DtmfEvent` are produced from
  it. Without ``dtmf_listen`` no DTMF is reported.
* RTP timeout — rtpengine's own ``--timeout`` deletes the session silently (it notifies only
  an XMLRPC B2BUA). So this controller polls ``query`` for its live sessions every
  ``poll_interval`` seconds and emits :class:`RtpTimeoutEvent` once when no RTP arrived on any
  leg for ``rtp_timeout`` seconds (held calls excepted), or when rtpengine has forgotten the
  session. Run rtpengine with a ``--timeout`` longer than ours.

The bencode codec (:func:`bencode`, :func:`bdecode`) is strict: integers without leading
zeros or ``-0``, string lengths without leading zeros, no duplicate dictionary keys, nothing
after the value, bounded nesting. Strings are ``str`` (UTF-8, undecodable bytes kept with
``surrogateescape`` so a round trip is exact); encoding sorts dictionary keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

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
    UnsupportedError,
    WorkerUnavailableError,
)
from clickphone.sip.errors import SipPeerError
from clickphone.sip.sdp import SessionDescription

log = logging.getLogger(__name__)

Address = tuple[str, int]

# -- bencode ---------------------------------------------------------------------------------

MAX_DEPTH = 32


class BencodeError(ValueError):
    """Malformed bencoded data, or a value bencode cannot represent."""


def bencode(value: object) -> bytes:
    """Encode ints, str/bytes, lists/tuples and dicts with str/bytes keys (sorted)."""
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


def _encode_bytes(data: bytes, out: list[bytes]) -> None:
    out.append(b"%d:" % len(data))
    out.append(data)


def _encode(value: object, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BencodeError(f"nested deeper than {MAX_DEPTH}")
    if isinstance(value, bool):  # before int: bool is an int subclass
        raise BencodeError("bencode has no booleans")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, str):
        _encode_bytes(value.encode("utf-8", "surrogateescape"), out)
    elif isinstance(value, bytes | bytearray | memoryview):
        _encode_bytes(bytes(value), out)
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out, depth + 1)
        out.append(b"e")
    elif isinstance(value, dict):
        items: dict[bytes, object] = {}
        for key, item in value.items():
            if isinstance(key, str):
                k = key.encode("utf-8", "surrogateescape")
            elif isinstance(key, bytes):
                k = key
            else:
                raise BencodeError(f"dictionary key {key!r} is not a string")
            if k in items:
                raise BencodeError(f"duplicate dictionary key {k!r}")
            items[k] = item
        out.append(b"d")
        for k in sorted(items):
            _encode_bytes(k, out)
            _encode(items[k], out, depth + 1)
        out.append(b"e")
    else:
        raise BencodeError(f"cannot bencode a {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    """Decode one complete bencoded value; raise :class:`BencodeError` on anything else."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise BencodeError(f"trailing data at offset {end}")
    return value


def _digits(data: bytes, pos: int, stop: int, what: str) -> tuple[int, int]:
    """Parse an unsigned decimal ending at byte ``stop``; return (number, index of stop)."""
    end = data.find(stop, pos)
    if end < 0:
        raise BencodeError(f"unterminated {what} at offset {pos}")
    text = data[pos:end]
    if not text or not text.isdigit() or not text.isascii():
        raise BencodeError(f"bad {what} {text[:20]!r} at offset {pos}")
    if len(text) > 1 and text[0:1] == b"0":
        raise BencodeError(f"{what} with a leading zero at offset {pos}")
    return int(text), end


def _decode(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise BencodeError(f"nested deeper than {MAX_DEPTH}")
    if pos >= len(data):
        raise BencodeError(f"unexpected end of data at offset {pos}")
    lead = data[pos]
    if lead == 0x69:  # i<digits>e
        start = pos + 1
        negative = data[start : start + 1] == b"-"
        number, end = _digits(data, start + negative, ord("e"), "integer")
        if negative and number == 0:
            raise BencodeError(f"negative zero at offset {pos}")
        return (-number if negative else number), end + 1
    if lead == 0x6C:  # l...e
        items: list[Any] = []
        pos += 1
        while True:
            if pos >= len(data):
                raise BencodeError("unterminated list")
            if data[pos] == 0x65:
                return items, pos + 1
            item, pos = _decode(data, pos, depth + 1)
            items.append(item)
    if lead == 0x64:  # d...e
        result: dict[str, Any] = {}
        pos += 1
        while True:
            if pos >= len(data):
                raise BencodeError("unterminated dictionary")
            if data[pos] == 0x65:
                return result, pos + 1
            if not 0x30 <= data[pos] <= 0x39:
                raise BencodeError(f"dictionary key at offset {pos} is not a string")
            key, pos = _decode(data, pos, depth + 1)
            if key in result:
                raise BencodeError(f"duplicate dictionary key {key!r}")
            result[key], pos = _decode(data, pos, depth + 1)
    if 0x30 <= lead <= 0x39:  # <length>:<bytes>
        length, colon = _digits(data, pos, ord(":"), "string length")
        start = colon + 1
        if start + length > len(data):
            raise BencodeError(f"string at offset {pos} runs past the end of the data")
        return data[start : start + length].decode("utf-8", "surrogateescape"), start + length
    raise BencodeError(f"unexpected byte {bytes([lead])!r} at offset {pos}")


# -- ng protocol client ----------------------------------------------------------------------


class _NgProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[bytes, asyncio.Future[dict[str, Any]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        cookie, sep, body = data.partition(b" ")
        future = self.pending.get(cookie)
        if not sep or future is None or future.done():
            return  # a late duplicate, or not ours
        try:
            message = bdecode(body)
        except BencodeError as exc:
            future.set_exception(MediaError(f"rtpengine sent malformed bencode: {exc}"))
            return
        if not isinstance(message, dict):
            future.set_exception(MediaError("rtpengine's answer is not a dictionary"))
            return
        future.set_result(message)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable (nobody listens yet): retransmission handles it
        log.debug("rtpengine ng socket: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(WorkerUnavailableError("ng socket closed"))


def error_for(reason: str) -> MediaError:
    """The :class:`MediaError` subclass for an rtpengine ``error-reason``."""
    low = reason.lower()
    if "unknown call-id" in low or "unknown call id" in low or "unknown from-tag" in low:
        return UnknownCallError(f"rtpengine: {reason}")
    if "unknown to-tag" in low or "call-id not found" in low:
        return UnknownCallError(f"rtpengine: {reason}")
    if "sdp" in low:
        return BadSdpError(f"rtpengine: {reason}", 488)
    if "port" in low and ("out of" in low or "allocat" in low):
        return NoPortsError(f"rtpengine: {reason}")
    if "load" in low or "capacity" in low or ("max" in low and "session" in low):
        return NoPortsError(f"rtpengine: {reason}")  # overloaded: 503 as well
    return MediaError(f"rtpengine: {reason}")


class NgClient:
    """Requests to one rtpengine ng listener over UDP."""

    def __init__(
        self,
        protocol: _NgProtocol,
        address: Address,
        *,
        request_timeout: float,
        retransmit: float,
    ) -> None:
        self._protocol = protocol
        self.address = address
        self._timeout = request_timeout
        self._retransmit = retransmit
        self._prefix = os.urandom(4).hex()
        self._seq = 0

    @classmethod
    async def connect(
        cls, host: str, port: int, *, request_timeout: float = 5.0, retransmit: float = 0.5
    ) -> NgClient:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(_NgProtocol, remote_addr=(host, port))
        return cls(protocol, (host, port), request_timeout=request_timeout, retransmit=retransmit)

    async def request(self, command: str, **args: object) -> dict[str, Any]:
        """Send ``command`` with ``args`` (``_`` in names becomes ``-``); return the answer.

        Raises the :class:`MediaError` subclass for an ``error`` result and
        :class:`WorkerUnavailableError` when rtpengine does not answer in time.
        """
        transport = self._protocol.transport
        if transport is None or transport.is_closing():
            raise WorkerUnavailableError("rtpengine ng client is closed")
        self._seq += 1
        cookie = f"{self._prefix}_{self._seq}".encode()
        body = {"command": command, **{k.replace("_", "-"): v for k, v in args.items()}}
        datagram = cookie + b" " + bencode(body)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._protocol.pending[cookie] = future
        deadline = time.monotonic() + self._timeout
        try:
            while True:
                transport.sendto(datagram)
                wait = min(self._retransmit, deadline - time.monotonic())
                if wait <= 0:
                    raise WorkerUnavailableError(
                        f"rtpengine {self.address[0]}:{self.address[1]} did not answer {command}"
                    )
                with contextlib.suppress(TimeoutError):
                    answer = await asyncio.wait_for(asyncio.shield(future), wait)
                    break
        finally:
            self._protocol.pending.pop(cookie, None)
            if not future.done():
                future.cancel()
        result = answer.get("result")
        if result in ("ok", "pong"):
            return answer
        reason = answer.get("error-reason") or answer.get("warning") or f"result {result!r}"
        raise error_for(str(reason))

    def close(self) -> None:
        if self._protocol.transport is not None:
            self._protocol.transport.close()


# -- DTMF log listener -----------------------------------------------------------------------


class _DtmfLogProtocol(asyncio.DatagramProtocol):
    """Receives rtpengine's ``--dtmf-log-dest`` JSON objects, one per key press."""

    def __init__(self, emit: Any) -> None:
        self.emit = emit
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        event = dtmf_event_from_log(data)
        if event is not None:
            self.emit(event)


DTMF_DIGITS = "0123456789*#ABCD"


def dtmf_event_from_log(data: bytes) -> DtmfEvent | None:
    """Turn one rtpengine DTMF log datagram into a :class:`DtmfEvent` (None if unusable)."""
    try:
        obj = json.loads(data)
        call_id = str(obj["callid"])
        tag = str(obj["source_tag"])
        event = obj["event"]
        duration = int(obj.get("duration", 0))
    except (ValueError, KeyError, TypeError):
        log.debug("ignoring DTMF log datagram %r", data[:200])
        return None
    if isinstance(event, int) and 0 <= event < len(DTMF_DIGITS):
        digit = DTMF_DIGITS[event]
    elif isinstance(event, str) and len(event) == 1 and event.upper() in DTMF_DIGITS:
        digit = event.upper()
    else:
        return None
    return DtmfEvent(call_id, tag, digit, duration)  # rtpengine reports milliseconds


# -- the controller ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    created: float
    tags: list[str] = field(default_factory=list)
    held: dict[str, bool] = field(default_factory=dict)
    timed_out: bool = False


def _check_sdp(sdp: bytes) -> tuple[str, bool]:
    """The SDP as text and whether it puts the stream on hold; :class:`BadSdpError` if the
    SDP cannot be parsed or has no audio (the same answer as the built-in relay)."""
    try:
        text = sdp.decode("utf-8")
        parsed = SessionDescription.parse(text)
    except UnicodeDecodeError as exc:
        raise BadSdpError(f"SDP is not UTF-8: {exc}", 400) from None
    except SipPeerError as exc:
        raise BadSdpError(str(exc), exc.status_hint) from exc
    if not any(m.kind == "audio" for m in parsed.media):
        raise BadSdpError("SDP has no audio stream", 488)
    return text, parsed.is_hold()


class RtpengineMediaController:
    """Drives one rtpengine over ng; see the module docstring for the mapping."""

    OFFER_FLAGS: dict[str, object] = {
        "replace": ["origin", "session-connection"],
        "ICE": "remove",
    }

    def __init__(
        self,
        ng: NgClient,
        *,
        rtp_timeout: float = 60.0,
        poll_interval: float = 5.0,
        validate_sdp: bool = True,
    ) -> None:
        self.ng = ng
        self.rtp_timeout = rtp_timeout
        self.poll_interval = poll_interval
        self.validate_sdp = validate_sdp
        self._sessions: dict[str, _Session] = {}
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue()
        self._dtmf: asyncio.DatagramTransport | None = None
        self._closed = False
        self._poller = asyncio.get_running_loop().create_task(self._poll_loop())

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        dtmf_listen: Address | None = None,
        request_timeout: float = 5.0,
        retransmit: float = 0.5,
        rtp_timeout: float = 60.0,
        poll_interval: float = 5.0,
        validate_sdp: bool = True,
    ) -> RtpengineMediaController:
        """Connect to rtpengine's ``--listen-ng`` at ``host:port`` (no request is made: it may
        start later). ``dtmf_listen`` opens the socket for ``--dtmf-log-dest``."""
        ng = await NgClient.connect(
            host, port, request_timeout=request_timeout, retransmit=retransmit
        )
        ctl = cls(
            ng, rtp_timeout=rtp_timeout, poll_interval=poll_interval, validate_sdp=validate_sdp
        )
        if dtmf_listen is not None:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _DtmfLogProtocol(ctl._events.put_nowait), local_addr=dtmf_listen
            )
            ctl._dtmf = transport
        return ctl

    async def __aenter__(self) -> RtpengineMediaController:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def events_address(self) -> Address | None:
        """Where rtpengine's ``--dtmf-log-dest`` must point (None without ``dtmf_listen``)."""
        if self._dtmf is None:
            return None
        host, port = self._dtmf.get_extra_info("sockname")[:2]
        return str(host), int(port)

    async def ping(self) -> None:
        """Raise :class:`WorkerUnavailableError` unless rtpengine answers ``pong``."""
        await self.ng.request("ping")

    def _sdp(self, sdp: bytes) -> tuple[str, bool]:
        if self.validate_sdp:
            return _check_sdp(sdp)
        try:
            return sdp.decode("utf-8"), False
        except UnicodeDecodeError as exc:
            raise BadSdpError(f"SDP is not UTF-8: {exc}", 400) from None

    @staticmethod
    def _returned_sdp(answer: dict[str, Any]) -> bytes:
        sdp = answer.get("sdp")
        if not isinstance(sdp, str) or not sdp:
            raise MediaError("rtpengine returned no SDP")
        return sdp.encode("utf-8", "surrogateescape")

    def _note(self, call_id: str, tag: str, held: bool) -> None:
        session = self._sessions.get(call_id)
        if session is None:
            session = self._sessions[call_id] = _Session(time.monotonic())
        if tag not in session.tags:
            session.tags.append(tag)
        session.held[tag] = held

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, *, media_ip: str) -> bytes:
        text, held = self._sdp(sdp)
        answer = await self.ng.request(
            "offer", call_id=call_id, from_tag=from_tag, sdp=text, **self.OFFER_FLAGS
        )
        self._note(call_id, from_tag, held)
        return self._returned_sdp(answer)

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, *, media_ip: str
    ) -> bytes:
        text, held = self._sdp(sdp)
        answer = await self.ng.request(
            "answer",
            call_id=call_id,
            from_tag=from_tag,
            to_tag=to_tag,
            sdp=text,
            **self.OFFER_FLAGS,
        )
        self._note(call_id, to_tag, held)
        return self._returned_sdp(answer)

    async def delete(self, call_id: str) -> None:
        self._sessions.pop(call_id, None)
        with contextlib.suppress(UnknownCallError):
            await self.ng.request("delete", call_id=call_id)

    async def query(self, call_id: str) -> CallStats:
        answer = await self.ng.request("query", call_id=call_id)
        return stats_from_query(call_id, answer, time.time())

    async def start_recording(self, call_id: str, path: str) -> None:
        raise MediaError(
            "recording to a chosen path is not supported through rtpengine "
            "(it records into its own --recording-dir)",
            501,
        )

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        raise MediaError("recording is not supported through rtpengine", 501)

    # -- the relay as an endpoint: not with rtpengine -----------------------------------------
    @staticmethod
    def _unsupported(command: str) -> UnsupportedError:
        return UnsupportedError(
            f"{command} is not supported with rtpengine as the media plane: call flows "
            "(prompts, locally answered legs, voicemail, click-to-call) need the built-in relay"
        )

    async def local_answer(self, call_id: str, tag: str, *, media_ip: str) -> bytes:
        raise self._unsupported("local_answer")

    async def local_offer(
        self,
        call_id: str,
        tag: str,
        *,
        media_ip: str,
        codecs: Sequence[str] | None = None,
    ) -> bytes:
        raise self._unsupported("local_offer")

    async def accept(self, call_id: str, tag: str, sdp: bytes) -> None:
        raise self._unsupported("accept")

    async def bridge(self, call_id: str, tag_a: str, tag_b: str) -> None:
        raise self._unsupported("bridge")

    async def play(self, call_id: str, tag: str, path: str, *, loop: bool = False) -> str:
        raise self._unsupported("play")

    async def stop_play(self, call_id: str, tag: str) -> None:
        raise self._unsupported("stop_play")

    async def record_leg(self, call_id: str, tag: str, path: str) -> None:
        raise self._unsupported("record_leg")

    async def stop_record_leg(self, call_id: str, tag: str) -> RecordingInfo:
        raise self._unsupported("stop_record_leg")

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    # -- RTP timeout by polling ----------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            for call_id in list(self._sessions):
                try:
                    await self._check_timeout(call_id)
                except WorkerUnavailableError as exc:
                    log.warning("rtpengine poll: %s", exc)
                    break
                except MediaError as exc:
                    log.warning("%s rtpengine poll: %s", call_id, exc)

    async def _check_timeout(self, call_id: str) -> None:
        session = self._sessions.get(call_id)
        if session is None or session.timed_out or any(session.held.values()):
            return
        try:
            stats = await self.query(call_id)
        except UnknownCallError:
            idle = time.monotonic() - session.created  # rtpengine timed it out itself
        else:
            idles = [leg.idle_seconds for leg in stats.legs if leg.idle_seconds is not None]
            idle = min(idles) if idles else stats.age_seconds
        if idle >= self.rtp_timeout and self._sessions.get(call_id) is session:
            session.timed_out = True
            log.info("%s x RTP timeout after %.0f s (rtpengine)", call_id, idle)
            self._events.put_nowait(RtpTimeoutEvent(call_id, round(idle, 3)))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._poller
        for call_id in list(self._sessions):
            with contextlib.suppress(MediaError):
                await self.delete(call_id)
        self.ng.close()
        if self._dtmf is not None:
            self._dtmf.close()
        self._events.put_nowait(None)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def stats_from_query(call_id: str, answer: dict[str, Any], now: float) -> CallStats:
    """Build :class:`CallStats` from an ng ``query`` answer (wall clock ``now``)."""
    created = _int(answer.get("created")) + _int(answer.get("created_us")) / 1e6
    tags = answer.get("tags")
    legs: list[LegStats] = []
    received: list[tuple[int, int]] = []
    for tag_info in tags.values() if isinstance(tags, dict) else []:
        if not isinstance(tag_info, dict):
            continue
        leg = LegStats(tag=str(tag_info.get("tag") or "") or None, local_port=0)
        last = 0
        packets = bytes_ = 0
        for media in tag_info.get("medias") or []:
            for stream in (media.get("streams") or []) if isinstance(media, dict) else []:
                if not isinstance(stream, dict) or _int(stream.get("local port")) % 2:
                    continue  # RTCP streams sit on odd ports
                leg.local_port = leg.local_port or _int(stream.get("local port"))
                endpoint = stream.get("endpoint")
                if isinstance(endpoint, dict) and endpoint.get("address"):
                    leg.remote = f"{endpoint['address']}:{_int(endpoint.get('port'))}"
                stats = stream.get("stats") or {}
                packets += _int(stats.get("packets"))
                bytes_ += _int(stats.get("bytes"))
                leg.dropped += _int(stats.get("errors"))
                last = max(last, _int(stream.get("last packet")))
                leg.latched = leg.latched or "confirmed" in (stream.get("flags") or [])
        leg.packets_in, leg.bytes_in = packets, bytes_
        leg.idle_seconds = max(0.0, now - last) if last and packets else None
        legs.append(leg)
        received.append((packets, bytes_))
    if len(legs) == 2:  # what one leg sent in went out to the other
        legs[0].packets_out, legs[0].bytes_out = received[1]
        legs[1].packets_out, legs[1].bytes_out = received[0]
    return CallStats(call_id, max(0.0, now - created) if created else 0.0, legs)


# -- running rtpengine (tests, benchmarks, `clickphone serve` on a single machine) -------------


@dataclass
class RtpengineProcess:
    """An ``rtpengine`` daemon we started in the foreground; stopped by its PID."""

    process: asyncio.subprocess.Process
    host: str
    ng_port: int
    log_path: str | None

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, grace: float = 5.0) -> int:
        """SIGTERM (then SIGKILL after ``grace`` seconds); returns the exit status."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def start_rtpengine(
    *,
    binary: str = "rtpengine",
    host: str = "127.0.0.1",
    ng_port: int | None = None,
    port_min: int = 16000,
    port_max: int = 16999,
    dtmf_log_dest: Address | None = None,
    threads: int | None = None,
    log_path: str | None = None,
    log_level: int = 5,
    extra: tuple[str, ...] = (),
    ready_timeout: float = 10.0,
) -> RtpengineProcess:
    """Start a userspace-only rtpengine (``--table=-1``, ``--config-file=none``: not the
    packaged /etc/rtpengine/rtpengine.conf) on ``host`` with its ng listener on
    ``ng_port`` (default: a free UDP port), and wait until it answers ``ping``.
    ``--delete-delay=0`` frees a deleted session's ports at once. Its log goes to
    ``log_path`` (else discarded)."""
    ng_port = ng_port or _free_udp_port(host)
    args = [
        "--config-file=none",
        "--table=-1",
        "--foreground",
        "--log-stderr",
        f"--log-level={log_level}",
        f"--interface={host}",
        f"--listen-ng={host}:{ng_port}",
        f"--port-min={port_min}",
        f"--port-max={port_max}",
        "--delete-delay=0",
    ]
    if dtmf_log_dest is not None:
        args.append(f"--dtmf-log-dest={dtmf_log_dest[0]}:{dtmf_log_dest[1]}")
    if threads is not None:
        args.append(f"--num-threads={threads}")
    args.extend(extra)
    log_file = await asyncio.to_thread(open, log_path, "ab") if log_path else None
    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file or asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT,
        )
    finally:
        if log_file is not None:
            log_file.close()
    engine = RtpengineProcess(process, host, ng_port, log_path)
    ng = await NgClient.connect(host, ng_port, request_timeout=ready_timeout, retransmit=0.1)
    try:
        await ng.request("ping")
    except MediaError:
        await engine.stop()
        raise WorkerUnavailableError(
            f"rtpengine did not start (exit status {process.returncode}); see {log_path}"
        ) from None
    finally:
        ng.close()
    return engine
