"""Codecs per trunk: the list's validation, the restricted offer, and the router's targets."""

from __future__ import annotations

import pytest

from clickphone.calls.routing import CallOrigin
from clickphone.sip.sdp import SdpNegotiationError, SessionDescription
from clickphone.trunks.codecs import canonical_codecs, restrict_codecs
from clickphone.trunks.dialplan import TrunkSpec
from clickphone.trunks.router import TrunkRouter

OFFER = (
    b"v=0\r\n"
    b"o=- 1 1 IN IP4 192.0.2.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 4000 RTP/AVP 111 0 8 9 101\r\n"
    b"a=rtpmap:111 opus/48000/2\r\n"
    b"a=fmtp:111 useinbandfec=1\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=sendrecv\r\n"
)


def formats(sdp: bytes) -> list[str]:
    audio = SessionDescription.parse(sdp).audio()
    assert audio is not None
    return [c.encoding for c in audio.codecs()]


def test_keeps_the_offer_order_and_dtmf_only_when_listed() -> None:
    out = restrict_codecs(OFFER, ["PCMA", "PCMU", "telephone-event"])
    # the offer's order (PCMU before PCMA), not the list's
    assert formats(out) == ["PCMU", "PCMA", "telephone-event"]
    assert b"opus" not in out and b"G722" not in out and b"useinbandfec" not in out
    assert b"a=fmtp:101 0-16" in out
    assert formats(restrict_codecs(OFFER, ["pcma"])) == ["PCMA"]


def test_names_match_case_insensitively_and_by_rate() -> None:
    assert formats(restrict_codecs(OFFER, ["OPUS/48000"])) == ["opus"]
    with pytest.raises(SdpNegotiationError):
        restrict_codecs(OFFER, ["opus/16000"])


def test_nothing_left_is_488_and_empty_list_changes_nothing() -> None:
    with pytest.raises(SdpNegotiationError) as err:
        restrict_codecs(OFFER, ["G729", "telephone-event"])
    assert err.value.status_hint == 488
    assert restrict_codecs(OFFER, []) == OFFER


def test_canonical_codec_lists() -> None:
    assert canonical_codecs(["pcma", " OPUS ", "Telephone-Event"]) == [
        "PCMA",
        "opus",
        "telephone-event",
    ]
    assert canonical_codecs(["opus/48000"]) == ["opus/48000"]
    for bad in (["MP3"], ["PCMA", "pcma"], ["telephone-event"], ["PCMA/x"]):
        with pytest.raises(ValueError):
            canonical_codecs(bad)


def test_trunk_targets_carry_the_trunk_codecs() -> None:
    spec = TrunkSpec(
        id=1, name="carrier", kind="ip", host="192.0.2.10", codecs=("PCMA", "telephone-event")
    )
    router = TrunkRouter(None, None, extensions=None)  # type: ignore[arg-type]
    target = router._target(
        spec, "+74951234567", "+74950000000", CallOrigin(tenant_id=1, number="101")
    )
    assert target.codecs == ("PCMA", "telephone-event")
    assert target.uri == "sip:+74951234567@192.0.2.10"
