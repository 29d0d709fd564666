"""Codecs per trunk: which names a trunk may list, and the offer restricted to them.

A trunk's ``codecs`` is a list of encoding names (``PCMA``, ``PCMU``, ``opus``,
``telephone-event``, ...), optionally with a clock rate (``opus/48000``). An empty list
means "whatever we offer". :func:`restrict_codecs` is what the B2BUA applies to the SDP
offer it sends to a trunk (``Target.codecs``).
"""

from __future__ import annotations

from collections.abc import Iterable

from clickphone.sip.sdp import SdpNegotiationError, SessionDescription

# canonical spelling of the encoding names a trunk may list (RTP/AVP registry names)
KNOWN_CODECS = {
    name.lower(): name
    for name in (
        "PCMU",
        "PCMA",
        "G722",
        "G729",
        "GSM",
        "iLBC",
        "speex",
        "opus",
        "AMR",
        "AMR-WB",
        "telephone-event",
    )
}
DTMF = "telephone-event"


def canonical_codecs(codecs: Iterable[str]) -> list[str]:
    """Validate and normalise a trunk's codec list (order kept, duplicates refused).

    Raises ValueError with a message for the API's field details.
    """
    out: list[str] = []
    for raw in codecs:
        name, sep, rate = raw.strip().partition("/")
        canonical = KNOWN_CODECS.get(name.lower())
        if canonical is None:
            raise ValueError(f"unknown codec {raw!r}; known: {', '.join(KNOWN_CODECS.values())}")
        if sep and not rate.isdigit():
            raise ValueError(f"bad clock rate in {raw!r}")
        value = f"{canonical}/{rate}" if sep else canonical
        if value in out:
            raise ValueError(f"{value} is listed twice")
        out.append(value)
    if out and all(c.split("/")[0] == DTMF for c in out):
        raise ValueError("list at least one audio codec besides telephone-event")
    return out


def _allowed(encoding: str, clock_rate: int, allowed: list[tuple[str, int | None]]) -> bool:
    name = encoding.lower()
    return any(name == a and (rate is None or rate == clock_rate) for a, rate in allowed)


def restrict_codecs(sdp: bytes, codecs: Iterable[str]) -> bytes:
    """The SDP with its audio stream reduced to ``codecs`` (in the offer's own order).

    telephone-event stays only when listed. Nothing listed: the SDP unchanged. Raises
    :class:`SdpNegotiationError` (488) when no audio codec of the list is in the offer.
    """
    wanted: list[tuple[str, int | None]] = []
    for spec in codecs:
        name, _, rate = spec.strip().partition("/")
        wanted.append((name.lower(), int(rate) if rate.isdigit() else None))
    if not wanted:
        return sdp
    description = SessionDescription.parse(sdp)
    audio = description.audio()
    if audio is None:
        raise SdpNegotiationError("offer has no audio stream")
    keep = [c for c in audio.codecs() if _allowed(c.encoding, c.clock_rate, wanted)]
    if not any(c.encoding.lower() != DTMF for c in keep):
        raise SdpNegotiationError("no codec of the trunk's list in the offer")
    audio.keep_formats(c.payload_type for c in keep)
    return description.serialize()


__all__ = ["KNOWN_CODECS", "canonical_codecs", "restrict_codecs"]
