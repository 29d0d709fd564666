"""The relay end to end on 127.0.0.1, in-process and through the worker process."""

from __future__ import annotations

import asyncio
import socket

import pytest

from clickphone.media.control import (
    BadSdpError,
    DtmfEvent,
    MediaController,
    RtpTimeoutEvent,
    UnknownCallError,
)
from clickphone.rtp.g711 import ulaw_decode
from clickphone.rtp.packet import RtpPacket
from clickphone.rtp.tone import dominant_frequency
from clickphone.sip.sdp import SessionDescription
from media.rtpfakes import RTP_TIMEOUT, Endpoint, relay_port

LOCAL = "127.0.0.1"


async def _collect_audio(ep: Endpoint, count: int) -> tuple[bytes, set[tuple[str, int]]]:
    pcm = b""
    sources = set()
    for _ in range(count):
        data, addr = await ep.recv()
        sources.add(addr)
        pkt = RtpPacket.parse(data)
        if pkt.payload_type == 0:
            pcm += ulaw_decode(pkt.payload)
    return pcm, sources


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((LOCAL, port))
        except OSError:
            return False
    return True


async def test_two_way_audio_latching_dtmf_timeout_delete(
    controller: MediaController, endpoints: list[Endpoint]
) -> None:
    alice, bob_sdp_addr, bob_nat = endpoints
    # Alice offers; the SDP for Bob points at the relay
    to_bob = await controller.offer("call-1", "atag", alice.sdp(), media_ip=LOCAL)
    text = to_bob.decode()
    assert "candidate" not in text and "ice-ufrag" not in text
    b_port = relay_port(to_bob)
    assert b_port % 2 == 0
    # Bob answers with a private address (bob_sdp_addr) but really sends from bob_nat
    to_alice = await controller.answer("call-1", "atag", "btag", bob_sdp_addr.sdp(), media_ip=LOCAL)
    a_port = relay_port(to_alice)
    assert a_port % 2 == 0 and a_port != b_port

    # before Bob sends anything, Alice's audio goes to the address in Bob's SDP
    alice.send_tone((LOCAL, a_port), 1000, frames=3)
    pcm, sources = await _collect_audio(bob_sdp_addr, 3)
    assert sources == {(LOCAL, b_port)}  # symmetric: it comes from the port Bob was given
    assert dominant_frequency(pcm, [1000, 1500]) == 1000

    # Bob's first packet from another port latches the B leg there
    bob_nat.send_tone((LOCAL, b_port), 1500, frames=10)
    pcm, sources = await _collect_audio(alice, 10)
    assert sources == {(LOCAL, a_port)}
    assert dominant_frequency(pcm, [1000, 1500]) == 1500
    alice.send_tone((LOCAL, a_port), 1000, frames=10)
    pcm, _ = await _collect_audio(bob_nat, 10)
    assert dominant_frequency(pcm, [1000, 1500]) == 1000
    assert bob_sdp_addr.drain() == []
    # once latched, a third party's packets are dropped
    bob_sdp_addr.send_tone((LOCAL, b_port), 440, frames=2)

    # DTMF from Alice: six packets (three End copies) -> exactly one event, all forwarded
    events = controller.events()
    alice.send_dtmf((LOCAL, a_port), 5)
    event = await asyncio.wait_for(events.__anext__(), 3.0)
    assert event == DtmfEvent("call-1", "atag", "5", 100)
    _, _ = await _collect_audio(bob_nat, 6)

    stats = await controller.query("call-1")
    a, b = stats.legs
    assert (a.tag, b.tag) == ("atag", "btag")
    assert (a.local_port, b.local_port) == (a_port, b_port)
    assert a.packets_in == 3 + 10 + 6 and b.packets_out == a.packets_in
    assert b.packets_in == 10 and a.packets_out == 10
    assert b.latched and b.remote == f"{LOCAL}:{bob_nat.port}"
    assert b.dropped >= 1
    assert a.bytes_in > 0 and a.idle_seconds is not None

    # silence -> one RTP timeout event
    event = await asyncio.wait_for(events.__anext__(), RTP_TIMEOUT + 3.0)
    assert isinstance(event, RtpTimeoutEvent) and event.call_id == "call-1"
    assert event.idle_seconds >= RTP_TIMEOUT

    await controller.delete("call-1")
    for port in (a_port, a_port + 1, b_port, b_port + 1):
        assert _port_free(port), port
    with pytest.raises(UnknownCallError):
        await controller.query("call-1")
    await controller.delete("call-1")  # idempotent


async def test_reoffer_keeps_ports_and_hold(
    controller: MediaController, endpoints: list[Endpoint]
) -> None:
    alice, bob, _ = endpoints
    b_port = relay_port(await controller.offer("call-2", "atag", alice.sdp(), media_ip=LOCAL))
    a_port = relay_port(
        await controller.answer("call-2", "atag", "btag", bob.sdp(), media_ip=LOCAL)
    )
    # Bob puts Alice on hold with a re-INVITE: Bob is now the offerer
    to_alice = await controller.offer(
        "call-2", "btag", bob.sdp(direction="sendonly"), media_ip=LOCAL
    )
    assert relay_port(to_alice) == a_port
    held = SessionDescription.parse(to_alice)
    assert held.is_hold()
    to_bob = await controller.answer(
        "call-2", "btag", "atag", alice.sdp(direction="recvonly"), media_ip=LOCAL
    )
    assert relay_port(to_bob) == b_port
    stats = await controller.query("call-2")
    assert [leg.direction for leg in stats.legs] == ["recvonly", "sendonly"]
    # music on hold still flows Bob -> Alice
    bob.send_tone((LOCAL, b_port), 1500, frames=2)
    _, sources = await _collect_audio(alice, 2)
    assert sources == {(LOCAL, a_port)}
    # a held call does not time out
    events = controller.events()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(events.__anext__(), RTP_TIMEOUT * 2)
    await controller.delete("call-2")


async def test_errors(controller: MediaController) -> None:
    with pytest.raises(BadSdpError) as info:
        await controller.offer("call-3", "atag", b"garbage", media_ip=LOCAL)
    assert info.value.status_hint == 400
    no_audio = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
    with pytest.raises(BadSdpError) as info:
        await controller.offer("call-3", "atag", no_audio, media_ip=LOCAL)
    assert info.value.status_hint == 488
    with pytest.raises(UnknownCallError) as info2:
        await controller.answer("nope", "a", "b", Endpoint().sdp(port=40000), media_ip=LOCAL)
    assert info2.value.status_hint == 481
    with pytest.raises(UnknownCallError):
        await controller.query("nope")


async def test_many_calls_distinct_ports(controller: MediaController) -> None:
    sdp = Endpoint().sdp(port=40000)
    ports = set()
    for i in range(10):
        out = await controller.offer(f"c{i}", "t", sdp, media_ip=LOCAL)
        ports.add(relay_port(out))
    assert len(ports) == 10
    for i in range(10):
        await controller.delete(f"c{i}")
