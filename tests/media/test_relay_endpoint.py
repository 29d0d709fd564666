"""The relay as an endpoint: locally answered legs, file playback, relay-offered legs,
bridges with PCMU<->PCMA transcoding and leg recording — over loopback, in-process and
through the worker process (the ``controller`` fixture), plus rtpengine's refusal."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from clickphone.media.audio import ALAW_TO_ULAW, ULAW_TO_ALAW
from clickphone.media.control import (
    ERRORS,
    BadSdpError,
    DtmfEvent,
    MediaController,
    MediaError,
    MediaEvent,
    PlayDoneEvent,
    RtpTimeoutEvent,
    UnknownCallError,
    UnsupportedError,
    event_from_dict,
)
from clickphone.media.recorder import av_available
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.media.rtpengine import RtpengineMediaController
from clickphone.rtp.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from clickphone.rtp.packet import RtpPacket
from clickphone.rtp.tone import dominant_frequency, sine_pcm16, tone_power
from clickphone.sip.sdp import SessionDescription
from media.rtpfakes import RTP_TIMEOUT, TICK, Endpoint, relay_port

LOCAL = "127.0.0.1"
FREQS = [500, 1000, 1500, 2000]


@pytest.fixture
async def local() -> AsyncIterator[LocalMediaController]:
    config = RelayConfig(
        bind_ip=LOCAL, port_min=None, port_max=None, tick_interval=TICK, rtp_timeout=RTP_TIMEOUT
    )
    async with LocalMediaController(config) as ctl:
        yield ctl


def offer_sdp(port: int, formats: str, *, direction: str = "sendrecv") -> bytes:
    """An offer from a phone on 127.0.0.1:port with the given payload types in m= order."""
    names = {
        "0": "PCMU/8000",
        "8": "PCMA/8000",
        "9": "G722/8000",
        "96": "telephone-event/8000",
        "101": "telephone-event/8000",
        "111": "opus/48000/2",
    }
    lines = [
        "v=0",
        "o=- 7 7 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
    ]
    lines += [f"a=rtpmap:{pt} {names[pt]}" for pt in formats.split()]
    lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


def write_wav(
    path: Path, freq: float, seconds: float, *, rate: int = 8000, channels: int = 1
) -> str:
    pcm = np.frombuffer(sine_pcm16(freq, seconds, rate, amplitude=0.5), dtype="<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(pcm, channels).astype("<i2").tobytes())
    return str(path)


def send_alaw(ep: Endpoint, dest: tuple[str, int], freq: float, frames: int) -> None:
    assert ep.transport is not None
    for _ in range(frames):
        pcm = sine_pcm16(freq, 0.02, amplitude=0.3, start_sample=ep.ts)
        pkt = RtpPacket(8, ep.seq, ep.ts, 0x5678, payload=alaw_encode(pcm))
        ep.transport.sendto(pkt.serialize(), dest)
        ep.seq += 1
        ep.ts += 160


async def packets(ep: Endpoint, count: int) -> list[tuple[RtpPacket, float]]:
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(count):
        data, _ = await ep.recv(3.0)
        out.append((RtpPacket.parse(data), loop.time()))
    return out


def pcm_of(pkts: list[RtpPacket]) -> bytes:
    decode = {0: ulaw_decode, 8: alaw_decode}
    return b"".join(decode[p.payload_type](p.payload) for p in pkts)


async def next_event(events: AsyncIterator[MediaEvent], kind: type, wait: float = 5.0):
    while True:
        event = await asyncio.wait_for(events.__anext__(), wait)
        if isinstance(event, kind):
            return event


async def answered_locally(
    ctl: MediaController, call_id: str, ep: Endpoint, formats: str = "0 101"
) -> tuple[SessionDescription, int]:
    await ctl.offer(call_id, "caller", offer_sdp(ep.port, formats), media_ip=LOCAL)
    answer = SessionDescription.parse(await ctl.local_answer(call_id, "caller", media_ip=LOCAL))
    return answer, relay_port(answer.serialize())


async def test_play_streams_the_file_paced_then_reports_done(
    controller: MediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    phone = endpoints[0]
    answer, port = await answered_locally(controller, "ivr-1", phone)
    audio = answer.audio()
    assert audio is not None and audio.port % 2 == 0
    assert [(c.payload_type, c.encoding) for c in audio.codecs()] == [
        (0, "PCMU"),
        (101, "telephone-event"),
    ]
    assert answer.media_connection(audio) is not None
    events = controller.events()

    tone = write_wav(tmp_path / "tone.wav", 1000, 1.0)
    play_id = await controller.play("ivr-1", "caller", tone)
    got = await packets(phone, 50)
    done = await next_event(events, PlayDoneEvent)
    assert done == PlayDoneEvent("ivr-1", "caller", play_id)
    assert phone.drain() == []  # exactly the file's 50 frames of 20 ms
    pkts = [p for p, _ in got]
    assert {p.payload_type for p in pkts} == {0}
    assert [p.marker for p in pkts] == [True] + [False] * 49
    assert len({p.ssrc for p in pkts}) == 1
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(pkts))
    assert all((b.timestamp - a.timestamp) % 2**32 == 160 for a, b in itertools.pairwise(pkts))
    span = got[-1][1] - got[0][1]
    assert 0.8 <= span <= 1.6, span  # paced at 20 ms, not sent in a burst
    pcm = pcm_of(pkts)
    assert len(pcm) == 2 * 8000
    assert dominant_frequency(pcm, FREQS) == 1000
    assert tone_power(pcm, 1000) > 0.15  # amplitude 0.5 -> ~0.25

    # a second play continues the stream: same SSRC, next sequence number, marker again
    short = write_wav(tmp_path / "short.wav", 1500, 0.2)
    second = await controller.play("ivr-1", "caller", short)
    assert second != play_id
    more = [p for p, _ in await packets(phone, 10)]
    assert (await next_event(events, PlayDoneEvent)).play_id == second
    assert more[0].marker and not any(p.marker for p in more[1:])
    assert more[0].ssrc == pkts[0].ssrc
    assert more[0].sequence == (pkts[-1].sequence + 1) % 65536
    assert (more[0].timestamp - pkts[-1].timestamp) % 2**32 >= 160
    assert dominant_frequency(pcm_of(more), FREQS) == 1500

    stats = await controller.query("ivr-1")
    caller = stats.legs[0]
    assert (caller.tag, caller.local, caller.codec, caller.packets_out) == (
        "caller",
        True,
        "PCMU",
        60,
    )
    assert caller.local_port == port
    await controller.delete("ivr-1")


async def test_local_offer_accept_bridge_transcodes_and_maps_dtmf(
    controller: MediaController, endpoints: list[Endpoint]
) -> None:
    caller, agent, bystander = endpoints
    # the caller offers PCMA with telephone-event as 96; the relay answers it
    answer, caller_port = await answered_locally(controller, "q-1", caller, "8 0 96")
    audio = answer.audio()
    assert audio is not None
    assert [c.encoding for c in audio.codecs()] == ["PCMA", "telephone-event"]
    assert audio.telephone_event_pts() == {96}
    # a relay-offered leg on the same call offers only the caller's codec (no transcoding) ...
    default = SessionDescription.parse(
        await controller.local_offer("q-1", "other", media_ip=LOCAL)
    ).audio()
    assert default is not None
    assert [(c.payload_type, c.encoding) for c in default.codecs()] == [
        (8, "PCMA"),
        (101, "telephone-event"),
    ]
    # ... unless told otherwise: the agent leg is offered PCMU and answers PCMU
    offer = await controller.local_offer("q-1", "agent", media_ip=LOCAL, codecs=["PCMU"])
    offered = SessionDescription.parse(offer).audio()
    assert offered is not None
    assert [c.encoding for c in offered.codecs()] == ["PCMU", "telephone-event"]
    agent_port = relay_port(offer)
    assert len({caller_port, agent_port, default.port}) == 3
    with pytest.raises(BadSdpError):  # PCMA was not offered to this leg
        await controller.accept("q-1", "agent", offer_sdp(agent.port, "8"))
    await controller.accept("q-1", "agent", agent.sdp())  # PCMU 0 + telephone-event 101
    with pytest.raises(MediaError):  # answered already
        await controller.accept("q-1", "agent", agent.sdp())
    # a third leg, negotiated but never bridged, must get nothing
    third = await controller.local_offer("q-1", "third", media_ip=LOCAL)
    await controller.accept("q-1", "third", offer_sdp(bystander.port, "8 101"))

    await controller.bridge("q-1", "caller", "agent")
    send_alaw(caller, (LOCAL, caller_port), 1000, 10)
    to_agent = [p for p, _ in await packets(agent, 10)]
    assert {p.payload_type for p in to_agent} == {0}  # transcoded to PCMU
    assert dominant_frequency(ulaw_decode(b"".join(p.payload for p in to_agent)), FREQS) == 1000
    agent.send_tone((LOCAL, agent_port), 1500, frames=10)
    to_caller = [p for p, _ in await packets(caller, 10)]
    assert {p.payload_type for p in to_caller} == {8}  # transcoded to PCMA
    assert dominant_frequency(alaw_decode(b"".join(p.payload for p in to_caller)), FREQS) == 1500

    # the agent's DTMF is reported and reaches the caller as the caller's telephone-event PT
    events = controller.events()
    agent.send_dtmf((LOCAL, agent_port), 7)
    assert await next_event(events, DtmfEvent) == DtmfEvent("q-1", "agent", "7", 100)
    dtmf = [p for p, _ in await packets(caller, 6)]
    assert {p.payload_type for p in dtmf} == {96}
    await asyncio.sleep(0.1)
    assert bystander.drain() == []
    stats = {leg.tag: leg for leg in (await controller.query("q-1")).legs}
    assert stats["caller"].bridged_to == "agent" and stats["agent"].bridged_to == "caller"
    assert stats["third"].bridged_to is None and stats["third"].packets_out == 0
    assert relay_port(third) == stats["third"].local_port
    await controller.delete("q-1")


async def test_click_to_call_starts_without_any_sip_offer(
    controller: MediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    me, them, _ = endpoints
    offer = SessionDescription.parse(await controller.local_offer("c2c", "me", media_ip=LOCAL))
    audio = offer.audio()
    assert audio is not None
    assert [(c.payload_type, c.encoding) for c in audio.codecs()] == [
        (0, "PCMU"),
        (8, "PCMA"),
        (101, "telephone-event"),
    ]
    await controller.accept("c2c", "me", offer_sdp(me.port, "8 101"))
    # ringback to the first leg while the second one is called
    ring = write_wav(tmp_path / "ring.wav", 500, 2.0)
    await controller.play("c2c", "me", ring, loop=True)
    heard = [p for p, _ in await packets(me, 5)]
    assert {p.payload_type for p in heard} == {8}
    assert dominant_frequency(alaw_decode(b"".join(p.payload for p in heard)), FREQS) == 500
    offer2 = await controller.local_offer("c2c", "them", media_ip=LOCAL)
    again = SessionDescription.parse(offer2).audio()
    assert again is not None  # the first leg negotiated PCMA: offered alone
    assert [c.encoding for c in again.codecs()] == ["PCMA", "telephone-event"]
    with pytest.raises(MediaError):  # not answered yet
        await controller.bridge("c2c", "me", "them")
    await controller.accept("c2c", "them", offer_sdp(them.port, "8 101"))
    await controller.bridge("c2c", "me", "them")  # stops the ringback
    await asyncio.sleep(0.1)
    me.drain()
    send_alaw(them, (LOCAL, relay_port(offer2)), 1500, 5)
    got = [p for p, _ in await packets(me, 5)]
    assert {p.payload_type for p in got} == {8}
    assert dominant_frequency(alaw_decode(b"".join(p.payload for p in got)), FREQS) == 1500
    await controller.delete("c2c")


async def test_record_leg_writes_what_the_leg_sends(
    controller: MediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    phone = endpoints[0]
    _, port = await answered_locally(controller, "vm-1", phone, "8 101")
    target = tmp_path / "vm" / "message.wav"
    await controller.record_leg("vm-1", "caller", str(target))
    for _ in range(8):  # 0.8 s of 1 kHz, sent in real time
        send_alaw(phone, (LOCAL, port), 1000, 5)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)
    info = await controller.stop_record_leg("vm-1", "caller")
    assert info.path == str(target) and info.format == "wav"
    assert 0.7 <= info.duration_seconds <= 1.2
    with wave.open(str(target)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 8000)
        pcm = w.readframes(w.getnframes())
    assert dominant_frequency(pcm, FREQS) == 1000
    assert tone_power(pcm, 1000) > 0.03
    assert info.bytes == target.stat().st_size

    # delete finishes a running leg recording; stop_record_leg still answers afterwards
    second = tmp_path / "vm" / ("again.ogg" if av_available() else "again.wav")
    await controller.record_leg("vm-1", "caller", str(second))
    send_alaw(phone, (LOCAL, port), 1000, 5)
    await asyncio.sleep(0.1)
    await controller.delete("vm-1")
    info2 = await controller.stop_record_leg("vm-1", "caller")
    assert info2.path.startswith(str(tmp_path)) and info2.bytes > 0
    with pytest.raises(UnknownCallError):
        await controller.stop_record_leg("vm-1", "nobody")


async def test_stop_record_leg_racing_delete_gets_the_file(
    local: LocalMediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    # a hang-up: the signaling side deletes the session while the flow stops its recording
    phone = endpoints[0]
    _, port = await answered_locally(local, "vm-2", phone, "0 101")
    await local.record_leg("vm-2", "caller", str(tmp_path / "race.wav"))
    await local.start_recording("vm-2", str(tmp_path / "call.wav"))
    phone.send_tone((LOCAL, port), 1000, frames=5)
    await asyncio.sleep(0.1)
    _, leg_info, call_info = await asyncio.gather(
        local.delete("vm-2"),
        local.stop_record_leg("vm-2", "caller"),
        local.stop_recording("vm-2"),
    )
    assert leg_info.path == str(tmp_path / "race.wav") and leg_info.bytes > 44
    assert call_info.path == str(tmp_path / "call.wav") and call_info.bytes > 44
    assert await local.stop_record_leg("vm-2", "caller") == leg_info


async def test_local_answer_picks_g711_in_offer_order(local: LocalMediaController) -> None:
    async def answer(formats: str, direction: str = "sendrecv") -> SessionDescription:
        call = f"c-{formats}-{direction}"
        await local.offer(call, "t", offer_sdp(40000, formats, direction=direction), media_ip=LOCAL)
        return SessionDescription.parse(await local.local_answer(call, "t", media_ip=LOCAL))

    def codecs(sdp: SessionDescription) -> list[tuple[int, str]]:
        audio = sdp.audio()
        assert audio is not None
        return [(c.payload_type, c.encoding) for c in audio.codecs()]

    assert codecs(await answer("111 8 0 101")) == [(8, "PCMA"), (101, "telephone-event")]
    assert codecs(await answer("9 0 8")) == [(0, "PCMU")]
    held = await answer("0 101", "sendonly")
    assert held.media_direction(held.audio()) == "recvonly"  # type: ignore[arg-type]
    with pytest.raises(BadSdpError) as info:
        await answer("111 9 101")  # opus and G.722 only: the relay generates G.711
    assert info.value.status_hint == 488
    with pytest.raises(UnknownCallError):
        await local.local_answer("nope", "t", media_ip=LOCAL)
    with pytest.raises(MediaError):
        await local.local_offer("x", "t", media_ip=LOCAL, codecs=["opus"])
    with pytest.raises(MediaError):
        await local.local_answer("c-9 0 8-sendrecv", "t", media_ip="not-an-ip")
    with pytest.raises(MediaError):  # a leg nobody offered to: no local offer to accept
        await local.accept("c-9 0 8-sendrecv", "t", offer_sdp(40000, "0"))


async def test_dtmf_from_local_leg_and_timeout_while_playing(
    local: LocalMediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    phone = endpoints[0]
    _, port = await answered_locally(local, "ivr-2", phone, "0 101")
    events = local.events()
    music = write_wav(tmp_path / "music.wav", 1000, 0.3)
    await local.play("ivr-2", "caller", music, loop=True)
    phone.send_dtmf((LOCAL, port), 11)  # '#'
    assert await next_event(events, DtmfEvent) == DtmfEvent("ivr-2", "caller", "#", 100)
    # the relay keeps playing, the phone sends nothing: the call still times out
    timeout = await next_event(events, RtpTimeoutEvent, RTP_TIMEOUT + 3.0)
    assert timeout.call_id == "ivr-2"
    stats = (await local.query("ivr-2")).legs[0]
    assert stats.packets_out > (RTP_TIMEOUT / 0.02) * 0.7  # it was playing all along
    await local.delete("ivr-2")


async def test_play_any_format_cached_loop_and_stop(
    local: LocalMediaController, endpoints: list[Endpoint], tmp_path: Path
) -> None:
    phone = endpoints[0]
    await answered_locally(local, "ivr-3", phone, "8 101")
    events = local.events()
    # 16 kHz stereo: decoded and resampled through PyAV
    stereo = write_wav(tmp_path / "wide.wav", 500, 0.4, rate=16000, channels=2)
    first = await local.play("ivr-3", "caller", stereo)
    got = [p for p, _ in await packets(phone, 20)]
    assert (await next_event(events, PlayDoneEvent)).play_id == first
    assert dominant_frequency(alaw_decode(b"".join(p.payload for p in got)), FREQS) == 500
    assert local.relay.prompts.decodes == 1
    await local.play("ivr-3", "caller", stereo)
    await local.play("ivr-3", "caller", stereo)  # replaces the previous play silently
    assert local.relay.prompts.decodes == 1  # cached by path + mtime
    await packets(phone, 20)
    assert (await next_event(events, PlayDoneEvent)).play_id != first
    # a looping play runs past the file's end until stopped, then nothing more is sent
    short = write_wav(tmp_path / "beep.wav", 1000, 0.1)
    await local.play("ivr-3", "caller", short, loop=True)
    looped = [p for p, _ in await packets(phone, 15)]
    assert not any(p.marker for p in looped[1:])
    await local.stop_play("ivr-3", "caller")
    await asyncio.sleep(0.1)
    phone.drain()
    await asyncio.sleep(0.15)
    assert phone.drain() == []
    with pytest.raises(TimeoutError):
        await next_event(events, PlayDoneEvent, 0.2)
    with pytest.raises(MediaError):
        await local.play("ivr-3", "caller", str(tmp_path / "missing.wav"))
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(MediaError):
        await local.play("ivr-3", "caller", str(tmp_path / "junk.wav"))
    await local.delete("ivr-3")


async def test_offer_answer_pair_still_bridged_and_bridge_rejects_mismatch(
    local: LocalMediaController, endpoints: list[Endpoint]
) -> None:
    alice, bob, _ = endpoints
    b_port = relay_port(await local.offer("p-1", "a", alice.sdp(), media_ip=LOCAL))
    a_port = relay_port(await local.answer("p-1", "a", "b", bob.sdp(), media_ip=LOCAL))
    stats = (await local.query("p-1")).legs
    assert [(s.tag, s.codec, s.local, s.bridged_to) for s in stats] == [
        ("a", "PCMU", False, "b"),
        ("b", "PCMU", False, "a"),
    ]
    alice.send_tone((LOCAL, a_port), 1000, frames=3)
    assert len(await packets(bob, 3)) == 3
    bob.send_tone((LOCAL, b_port), 1000, frames=3)
    assert len(await packets(alice, 3)) == 3
    # an opus leg cannot be bridged to a G.711 one
    await local.offer("p-2", "x", offer_sdp(40000, "111"), media_ip=LOCAL)
    await local.answer("p-2", "x", "y", offer_sdp(40002, "111"), media_ip=LOCAL)
    await local.local_offer("p-2", "z", media_ip=LOCAL)
    await local.accept("p-2", "z", offer_sdp(40004, "0"))
    with pytest.raises(BadSdpError):
        await local.bridge("p-2", "x", "z")
    with pytest.raises(MediaError):  # opus: nothing to play in
        await local.play("p-2", "x", "/nonexistent.wav")


def test_transcoding_tables_match_decode_then_encode() -> None:
    codes = bytes(range(256))
    assert codes.translate(ULAW_TO_ALAW) == alaw_encode(ulaw_decode(codes))
    assert codes.translate(ALAW_TO_ULAW) == ulaw_encode(alaw_decode(codes))
    event = PlayDoneEvent("c", "t", "p1")
    assert event_from_dict(dataclasses.asdict(event)) == event
    assert ERRORS["unsupported"] is UnsupportedError


async def test_rtpengine_refuses_endpoint_commands() -> None:
    # no rtpengine is needed: the controller refuses before sending anything
    ctl = await RtpengineMediaController.connect(LOCAL, 9, request_timeout=0.2)
    try:
        calls = [
            ctl.local_answer("c", "t", media_ip=LOCAL),
            ctl.local_offer("c", "t", media_ip=LOCAL, codecs=["PCMU"]),
            ctl.accept("c", "t", b"v=0\r\n"),
            ctl.bridge("c", "a", "b"),
            ctl.play("c", "t", "/x.wav"),
            ctl.stop_play("c", "t"),
            ctl.record_leg("c", "t", "/x.wav"),
            ctl.stop_record_leg("c", "t"),
        ]
        for call in calls:
            with pytest.raises(UnsupportedError) as info:
                await call
            assert info.value.status_hint == 501 and info.value.error_id == "unsupported"
            assert "built-in relay" in str(info.value)
        assert isinstance(ctl, MediaController)
    finally:
        await ctl.close()
