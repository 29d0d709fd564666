"""The command interface between signaling and the media plane.

``calls`` (the B2BUA) drives media only through :class:`MediaController`, shaped after
rtpengine's ng protocol so that an rtpengine client can implement it later without changing
the callers:

* ``offer(call_id, from_tag, sdp)`` — the offerer (leg ``from_tag``) sent ``sdp``. Both anchor
  port pairs are allocated on the first offer. Returns the SDP to forward to the other side,
  rewritten to point at the relay.
* ``answer(call_id, from_tag, to_tag, sdp)`` — the answerer (leg ``to_tag``) replied with
  ``sdp`` to the offer made by ``from_tag``. Returns the SDP to forward to the offerer. A
  provisional (183) answer may be followed by a final one; a different ``to_tag`` (forking)
  takes the leg over.
* A re-INVITE (hold, resume, new address) is just another offer/answer on the same call and
  keeps the ports; either leg may be the offerer (``from_tag`` is the re-offerer's tag). Hold is
  read from the SDP (``sendonly``/``inactive``/``c=0.0.0.0``); a held call does not time out.
* ``delete(call_id)`` frees the ports (idempotent). ``query(call_id)`` returns counters.
* ``start_recording(call_id, path)`` records both parties into one stereo file (leg A left,
  leg B right; ``.ogg`` Opus, ``.mp3`` or ``.wav`` by the suffix — WAV when the encoder is
  missing); ``stop_recording(call_id)`` finishes it and returns :class:`RecordingInfo`.
  ``delete`` stops a running recording too, and a later ``stop_recording`` still returns its
  info (rtpengine's ``start recording``/``stop recording``).
* ``events()`` yields :class:`DtmfEvent` (RFC 4733, one per key press),
  :class:`RtpTimeoutEvent` (no leg sent RTP for the configured time) and
  :class:`PlayDoneEvent` (a ``play`` reached the end of its file).

The relay as an endpoint (call flows: IVR, greetings, voicemail, queue music; click-to-call).
A session may have more than two legs; each is named by a tag the caller chooses:

* ``local_answer(call_id, tag, media_ip=...)`` — leg ``tag`` made the latest offer (through
  ``offer``); the relay answers it itself with one G.711 codec from the offer (PCMA/PCMU in the
  offer's order) plus telephone-event if offered. The leg is then *local*: unbridged, DTMF
  still reported, audio can be played to it and recorded from it.
* ``local_offer(call_id, tag, media_ip=..., codecs=None)`` — a new leg (and a new session when
  ``call_id`` is unknown) for which the relay is the offerer; returns the SDP offer. Offers
  ``codecs`` if given, else the G.711 codec already negotiated on another leg of the session,
  else PCMU and PCMA; always telephone-event 101. ``accept(call_id, tag, sdp)`` applies the
  remote answer.
* ``bridge(call_id, tag_a, tag_b)`` — forward RTP between two negotiated legs (stops their
  playback), transcoding PCMU<->PCMA and mapping payload types when the legs differ. A leg
  forwards to at most one other leg; bridging it elsewhere unbridges it from its old partner.
  ``offer``/``answer`` pairs are bridged as soon as the answer arrives, as before.
* ``play(call_id, tag, path, loop=False)`` streams an audio file (decoded once, cached) to a
  negotiated G.711 leg in 20 ms packets and returns a play id; :class:`PlayDoneEvent` reports
  its end (not after ``stop_play``, a replacing ``play``, ``bridge`` or ``delete``). Audio
  bridged *into* a leg is muted while something plays to it.
* ``record_leg(call_id, tag, path)`` records what leg ``tag`` sends (mono) into ``path``;
  ``stop_record_leg`` (or ``delete``) finishes it, as for ``start_recording``.

These need the built-in relay: :class:`~clickphone.media.rtpengine.RtpengineMediaController`
raises :class:`UnsupportedError` (501) for them.

``call_id`` names the media session; a B2BUA uses its A leg's Call-ID. Tags are the SIP
From/To tags of the legs as the relay's caller sees them (or any names it chooses for
``local_offer`` legs).

Implementations: :class:`clickphone.media.relay.LocalMediaController` (relay in the current
event loop) and :class:`clickphone.media.client.WorkerMediaController` (relay in a uvloop
worker process, see :mod:`clickphone.media.worker`), and
:class:`clickphone.media.rtpengine.RtpengineMediaController` (rtpengine over its ng protocol).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class MediaError(Exception):
    """Base of media-plane errors; ``status_hint`` is the SIP response to answer with."""

    error_id = "media_error"
    status_hint = 500

    def __init__(self, message: str, status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class BadSdpError(MediaError):
    """The SDP could not be parsed or has no usable audio (400 or 488)."""

    error_id = "bad_sdp"
    status_hint = 488


class UnknownCallError(MediaError):
    """No media session with this call-id (or no leg with this tag)."""

    error_id = "unknown_call"
    status_hint = 481


class NoPortsError(MediaError):
    """The port range is exhausted."""

    error_id = "no_ports"
    status_hint = 503


class WorkerUnavailableError(MediaError):
    """The media worker cannot be reached (client side only)."""

    error_id = "worker_unavailable"
    status_hint = 503


class UnsupportedError(MediaError):
    """The media plane cannot do this (e.g. call-flow media on rtpengine): 501."""

    error_id = "unsupported"
    status_hint = 501


ERRORS: dict[str, type[MediaError]] = {
    cls.error_id: cls
    for cls in (
        MediaError,
        BadSdpError,
        UnknownCallError,
        NoPortsError,
        WorkerUnavailableError,
        UnsupportedError,
    )
}


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """A key pressed on leg ``tag`` (the sender), reported once per RFC 4733 event."""

    call_id: str
    tag: str
    digit: str
    duration_ms: int
    kind: str = "dtmf"


@dataclass(frozen=True, slots=True)
class RtpTimeoutEvent:
    """No RTP arrived on any leg of the call for ``idle_seconds``."""

    call_id: str
    idle_seconds: float
    kind: str = "rtp_timeout"


@dataclass(frozen=True, slots=True)
class PlayDoneEvent:
    """The file of play ``play_id`` on leg ``tag`` has been sent to the end (not looping)."""

    call_id: str
    tag: str
    play_id: str
    kind: str = "play_done"


MediaEvent = DtmfEvent | RtpTimeoutEvent | PlayDoneEvent


def event_from_dict(data: dict[str, Any]) -> MediaEvent:
    kind = data.get("kind")
    if kind == "dtmf":
        return DtmfEvent(
            str(data["call_id"]), str(data["tag"]), str(data["digit"]), int(data["duration_ms"])
        )
    if kind == "rtp_timeout":
        return RtpTimeoutEvent(str(data["call_id"]), float(data["idle_seconds"]))
    if kind == "play_done":
        return PlayDoneEvent(str(data["call_id"]), str(data["tag"]), str(data["play_id"]))
    raise ValueError(f"unknown media event kind {kind!r}")


@dataclass(slots=True)
class LegStats:
    """Counters of one leg. ``packets_in`` arrived from this leg's endpoint; ``packets_out``
    were forwarded to it. ``remote`` is where we send (the SDP address until latched)."""

    tag: str | None
    local_port: int
    remote: str | None = None
    latched: bool = False
    direction: str = "sendrecv"
    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    dropped: int = 0
    rtcp_in: int = 0
    rtcp_out: int = 0
    idle_seconds: float | None = None  # since the last RTP from this leg (None: never)
    codec: str | None = None  # negotiated audio codec ("PCMU", "PCMA", ...), None: not yet
    local: bool = False  # the relay itself is this leg's endpoint (local_answer/local_offer)
    bridged_to: str | None = None  # tag of the leg this one's RTP is forwarded to


@dataclass(slots=True)
class CallStats:
    call_id: str
    age_seconds: float
    legs: list[LegStats] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallStats:
        return cls(
            call_id=str(data["call_id"]),
            age_seconds=float(data["age_seconds"]),
            legs=[LegStats(**leg) for leg in data["legs"]],
        )


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """A finished recording: where, which container, how long, how big."""

    call_id: str
    path: str
    format: str
    duration_seconds: float
    bytes: int
    started_at: float  # wall clock (epoch seconds)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordingInfo:
        return cls(
            call_id=str(data["call_id"]),
            path=str(data["path"]),
            format=str(data["format"]),
            duration_seconds=float(data["duration_seconds"]),
            bytes=int(data["bytes"]),
            started_at=float(data["started_at"]),
        )


@runtime_checkable
class MediaController(Protocol):
    """What the signaling side needs from a media plane (built-in relay or rtpengine)."""

    async def offer(self, call_id: str, from_tag: str, sdp: bytes, *, media_ip: str) -> bytes:
        """Anchor the offer from leg ``from_tag``; return the SDP for the other side."""
        ...

    async def answer(
        self, call_id: str, from_tag: str, to_tag: str, sdp: bytes, *, media_ip: str
    ) -> bytes:
        """Anchor the answer from leg ``to_tag``; return the SDP for the offerer."""
        ...

    async def delete(self, call_id: str) -> None:
        """Tear the session down and free its ports; unknown call-ids are ignored."""
        ...

    async def query(self, call_id: str) -> CallStats:
        """Counters for a session; raises :class:`UnknownCallError`."""
        ...

    async def start_recording(self, call_id: str, path: str) -> None:
        """Start recording the call into ``path`` (idempotent); raises UnknownCallError."""
        ...

    async def stop_recording(self, call_id: str) -> RecordingInfo:
        """Finish the recording (or return the one ``delete`` finished)."""
        ...

    async def local_answer(self, call_id: str, tag: str, *, media_ip: str) -> bytes:
        """Answer leg ``tag``'s latest offer with the relay itself; return the SDP answer."""
        ...

    async def local_offer(
        self,
        call_id: str,
        tag: str,
        *,
        media_ip: str,
        codecs: Sequence[str] | None = None,
    ) -> bytes:
        """Create leg ``tag`` (and the session if new) with the relay as the offerer."""
        ...

    async def accept(self, call_id: str, tag: str, sdp: bytes) -> None:
        """Apply the remote answer to the ``local_offer`` of leg ``tag``."""
        ...

    async def bridge(self, call_id: str, tag_a: str, tag_b: str) -> None:
        """Forward RTP between two negotiated legs (transcoding G.711 laws if needed)."""
        ...

    async def play(self, call_id: str, tag: str, path: str, *, loop: bool = False) -> str:
        """Stream the audio file ``path`` to leg ``tag``; return the play id."""
        ...

    async def stop_play(self, call_id: str, tag: str) -> None:
        """Stop what plays to leg ``tag`` (no event); nothing playing is fine."""
        ...

    async def record_leg(self, call_id: str, tag: str, path: str) -> None:
        """Record what leg ``tag`` sends (mono) into ``path`` (.wav, .ogg, .mp3)."""
        ...

    async def stop_record_leg(self, call_id: str, tag: str) -> RecordingInfo:
        """Finish the leg recording (or return the one ``delete`` finished)."""
        ...

    def events(self) -> AsyncIterator[MediaEvent]:
        """DTMF and RTP-timeout events, for a single consumer; ends when closed."""
        ...

    async def close(self) -> None:
        """Release every session (local) or the connection (remote)."""
        ...
