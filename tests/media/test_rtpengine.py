"""RtpengineMediaController against a real rtpengine (userspace, loopback, private ports)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from _peers import require_binary
from clickphone.media.control import (
    BadSdpError,
    DtmfEvent,
    MediaController,
    MediaError,
    NoPortsError,
    RtpTimeoutEvent,
    UnknownCallError,
    WorkerUnavailableError,
)
from clickphone.media.rtpengine import (
    RtpengineMediaController,
    RtpengineProcess,
    _free_udp_port,
    dtmf_event_from_log,
    error_for,
    start_rtpengine,
    stats_from_query,
)
from clickphone.sip.sdp import SessionDescription
from media.rtpfakes import Endpoint, relay_port

LOCAL = "127.0.0.1"


class Engine:
    def __init__(self, process: RtpengineProcess, ctl: RtpengineMediaController, base: int):
        self.process = process
        self.ctl = ctl
        self.port_min = base
        self.port_max = base + 99


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    binary = require_binary("rtpengine")
    base = random.randrange(10000, 19900, 100)  # below the ephemeral range, private to us
    ng_port = _free_udp_port(LOCAL)
    ctl = await RtpengineMediaController.connect(
        LOCAL,
        ng_port,
        dtmf_listen=(LOCAL, 0),
        request_timeout=3.0,
        rtp_timeout=1.0,
        poll_interval=0.25,
    )
    try:
        process = await start_rtpengine(
            binary=binary,
            ng_port=ng_port,
            port_min=base,
            port_max=base + 99,
            dtmf_log_dest=ctl.events_address,
            threads=1,
            log_path=str(tmp_path / "rtpengine.log"),
        )
    except BaseException:
        await ctl.close()
        raise
    try:
        yield Engine(process, ctl, base)
    finally:
        await ctl.close()
        assert await process.stop() in (0, -15)


async def setup_call(
    ctl: MediaController, a: Endpoint, b: Endpoint, call_id: str = "call-1"
) -> tuple[tuple[str, int], tuple[str, int], bytes, bytes]:
    """Offer from a (tag ta), answer from b (tag tb); returns where a and b must send."""
    to_b = await ctl.offer(call_id, "ta", a.sdp(), media_ip=LOCAL)
    to_a = await ctl.answer(call_id, "ta", "tb", b.sdp(), media_ip=LOCAL)
    return (LOCAL, relay_port(to_a)), (LOCAL, relay_port(to_b)), to_a, to_b


async def test_is_a_media_controller(engine: Engine) -> None:
    assert isinstance(engine.ctl, MediaController)
    await engine.ctl.ping()


async def test_offer_answer_rewrites_sdp_and_rtp_flows_both_ways(
    engine: Engine, endpoints: list[Endpoint]
) -> None:
    a, b, _ = endpoints
    a_dest, b_dest, to_a, to_b = await setup_call(engine.ctl, a, b)
    for sdp, phone in ((to_a, a), (to_b, b)):
        parsed = SessionDescription.parse(sdp)
        audio = parsed.audio()
        assert audio is not None
        conn = parsed.media_connection(audio)
        assert conn is not None and conn.address == LOCAL
        assert engine.port_min <= audio.port <= engine.port_max
        assert audio.port != phone.port
        assert b"ice-ufrag" not in sdp and b"candidate" not in sdp  # ICE: remove
        assert [c.encoding.lower() for c in audio.codecs()][:2] == ["pcmu", "telephone-event"]
    assert a_dest != b_dest
    for _ in range(5):
        a.send_tone(a_dest, 1000.0)
        b.send_tone(b_dest, 1500.0)
        await asyncio.sleep(0.02)
    got_b = [await b.recv() for _ in range(5)]
    got_a = [await a.recv() for _ in range(5)]
    # symmetric: each phone hears from the very address it sends to
    assert {addr for _, addr in got_b} == {b_dest}
    assert {addr for _, addr in got_a} == {a_dest}
    assert all(len(data) == 172 for data, _ in got_a + got_b)

    stats = await engine.ctl.query("call-1")
    legs = {leg.tag: leg for leg in stats.legs}
    assert set(legs) == {"ta", "tb"}
    assert legs["ta"].packets_in == 5 and legs["tb"].packets_in == 5
    assert legs["ta"].packets_out == 5 and legs["tb"].packets_out == 5
    assert legs["ta"].bytes_in == 5 * 172
    assert legs["ta"].local_port == a_dest[1] and legs["tb"].local_port == b_dest[1]
    assert legs["ta"].remote == f"{LOCAL}:{a.port}"
    assert legs["ta"].idle_seconds is not None and legs["ta"].idle_seconds < 5
    assert 0 <= stats.age_seconds < 10


async def test_reinvite_from_callee_keeps_media_flowing(
    engine: Engine, endpoints: list[Endpoint]
) -> None:
    a, b, _ = endpoints
    a_dest, b_dest, _, _ = await setup_call(engine.ctl, a, b)
    # the callee re-offers (hold, then resume): same ports, media still relayed
    held = await engine.ctl.offer("call-1", "tb", b.sdp(direction="sendonly"), media_ip=LOCAL)
    await engine.ctl.answer("call-1", "tb", "ta", a.sdp(direction="recvonly"), media_ip=LOCAL)
    assert relay_port(held) == a_dest[1]
    resumed = await engine.ctl.offer("call-1", "tb", b.sdp(), media_ip=LOCAL)
    back = await engine.ctl.answer("call-1", "tb", "ta", a.sdp(), media_ip=LOCAL)
    assert relay_port(resumed) == a_dest[1] and relay_port(back) == b_dest[1]
    a.send_tone(a_dest, 1000.0)
    b.send_tone(b_dest, 1500.0)
    assert (await b.recv())[1] == b_dest
    assert (await a.recv())[1] == a_dest


async def test_delete_frees_the_session(engine: Engine, endpoints: list[Endpoint]) -> None:
    a, b, _ = endpoints
    a_dest, _, _, _ = await setup_call(engine.ctl, a, b)
    await engine.ctl.delete("call-1")
    with pytest.raises(UnknownCallError) as info:
        await engine.ctl.query("call-1")
    assert info.value.status_hint == 481
    await engine.ctl.delete("call-1")  # idempotent
    await engine.ctl.delete("never-existed")
    a.send_tone(a_dest, 1000.0)
    await asyncio.sleep(0.2)
    assert b.drain() == []
    # the ports went back to the pool: a fresh call gets them
    _, _, to_a, _ = await setup_call(engine.ctl, a, b, "call-2")
    assert engine.port_min <= relay_port(to_a) <= engine.port_max


async def test_bad_sdp_maps_to_bad_sdp_error(engine: Engine, endpoints: list[Endpoint]) -> None:
    # checked locally first, like the built-in relay
    with pytest.raises(BadSdpError) as info:
        await engine.ctl.offer("bad", "ta", b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n", media_ip=LOCAL)
    assert info.value.status_hint in (400, 488)
    with pytest.raises(BadSdpError):
        await engine.ctl.offer("bad", "ta", b"\xff\xfe", media_ip=LOCAL)
    # and rtpengine's own refusal maps to the same error
    raw = await RtpengineMediaController.connect(LOCAL, engine.process.ng_port, validate_sdp=False)
    try:
        with pytest.raises(BadSdpError) as info:
            await raw.offer("bad", "ta", b"garbage", media_ip=LOCAL)
        assert "rtpengine: Failed to parse SDP" in str(info.value)
        assert info.value.status_hint == 488
        with pytest.raises(BadSdpError, match="rewriting SDP"):
            await raw.offer("bad2", "ta", b"v=0\r\n", media_ip=LOCAL)
    finally:
        await raw.close()


async def test_answer_for_unknown_call(engine: Engine, endpoints: list[Endpoint]) -> None:
    a = endpoints[0]
    with pytest.raises(UnknownCallError):
        await engine.ctl.answer("nope", "ta", "tb", a.sdp(), media_ip=LOCAL)


async def test_dtmf_and_rtp_timeout_events(engine: Engine, endpoints: list[Endpoint]) -> None:
    a, b, _ = endpoints
    a_dest, _, _, _ = await setup_call(engine.ctl, a, b)
    events = engine.ctl.events()
    a.send_tone(a_dest, 1000.0, frames=3)
    a.send_dtmf(a_dest, 5)
    first = await asyncio.wait_for(anext(events), 3.0)
    assert first == DtmfEvent("call-1", "ta", "5", 100)
    # no more RTP: after rtp_timeout (1 s) the poller reports the call once
    second = await asyncio.wait_for(anext(events), 5.0)
    assert isinstance(second, RtpTimeoutEvent) and second.call_id == "call-1"
    assert second.idle_seconds >= 1.0


async def test_held_call_does_not_time_out(engine: Engine, endpoints: list[Endpoint]) -> None:
    a, b, _ = endpoints
    await engine.ctl.offer("held", "ta", a.sdp(direction="sendonly"), media_ip=LOCAL)
    await engine.ctl.answer("held", "ta", "tb", b.sdp(direction="recvonly"), media_ip=LOCAL)
    events = engine.ctl.events()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), 1.6)


async def test_recording_is_not_supported(engine: Engine) -> None:
    with pytest.raises(MediaError) as info:
        await engine.ctl.start_recording("call-1", "/tmp/x.wav")
    assert info.value.status_hint == 501
    with pytest.raises(MediaError):
        await engine.ctl.stop_recording("call-1")


async def test_unreachable_rtpengine() -> None:
    ctl = await RtpengineMediaController.connect(
        LOCAL, _free_udp_port(LOCAL), request_timeout=0.3, retransmit=0.1
    )
    try:
        with pytest.raises(WorkerUnavailableError, match="did not answer offer"):
            await ctl.offer("x", "ta", Endpoint().sdp(port=4000), media_ip=LOCAL)
    finally:
        await ctl.close()


# -- pure helpers (no rtpengine needed) -------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "cls"),
    [
        ("Unknown call-id", UnknownCallError),
        ("Unknown from-tag", UnknownCallError),
        ("Failed to parse SDP", BadSdpError),
        ("Incomplete SDP specification", BadSdpError),
        ("Ran out of ports", NoPortsError),
        ("Parallel session limit reached", MediaError),
        ("Load limit reached", NoPortsError),
    ],
)
def test_error_mapping(reason: str, cls: type[MediaError]) -> None:
    err = error_for(reason)
    assert type(err) is cls
    assert reason in str(err)


def test_dtmf_log_parsing() -> None:
    data = (
        b'{"callid":"c3","source_tag":"tb","tags":["tb","ta"],"type":"DTMF",'
        b'"timestamp":1,"source_ip":"127.0.0.1","event":11,"duration":100,"volume":10}'
    )
    assert dtmf_event_from_log(data) == DtmfEvent("c3", "tb", "#", 100)
    assert dtmf_event_from_log(b"not json") is None
    assert dtmf_event_from_log(b'{"callid":"c","source_tag":"t","event":99}') is None


def test_stats_from_query_tolerates_missing_fields() -> None:
    stats = stats_from_query("c", {"result": "ok", "tags": {"x": {"tag": "x"}}}, 100.0)
    assert stats.call_id == "c" and stats.age_seconds == 0.0
    [leg] = stats.legs
    assert leg.tag == "x" and leg.packets_in == 0 and leg.idle_seconds is None
