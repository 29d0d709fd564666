"""Relay pieces without the full call flow: port allocator, DTMF flush, worker protocol."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from clickphone.media.client import WorkerMediaController
from clickphone.media.control import (
    CallStats,
    DtmfEvent,
    LegStats,
    MediaController,
    NoPortsError,
    RtpTimeoutEvent,
    WorkerUnavailableError,
    event_from_dict,
)
from clickphone.media.relay import LocalMediaController, PortAllocator, RelayConfig
from clickphone.media.wire import FrameError, encode_frame, read_frame
from clickphone.media.worker import start_worker
from clickphone.rtp.dtmf import TelephoneEvent
from clickphone.rtp.packet import RtpPacket
from media.rtpfakes import Endpoint, relay_port


def test_port_allocator_even_pairs_and_reuse_order() -> None:
    ports = PortAllocator(20001, 20010)
    got = [ports.acquire() for _ in range(4)]
    assert got == [20002, 20004, 20006, 20008]  # 20008+1 = 20009 < 20010
    assert ports.capacity == 4 and ports.in_use == 4
    with pytest.raises(NoPortsError) as info:
        ports.acquire()
    assert info.value.status_hint == 503
    ports.release(20004)
    ports.release(20004)  # double release is harmless
    assert ports.in_use == 3
    assert ports.acquire() == 20004
    with pytest.raises(ValueError):
        PortAllocator(30000, 20000)


def test_controllers_satisfy_protocol() -> None:
    assert isinstance(LocalMediaController(), MediaController)
    assert issubclass(WorkerMediaController, object)
    members = {"offer", "answer", "delete", "query", "events", "close"}
    assert members <= set(dir(WorkerMediaController))


def test_event_and_stats_dicts_round_trip() -> None:
    for ev in (DtmfEvent("c", "t", "#", 120), RtpTimeoutEvent("c", 61.5)):
        assert event_from_dict(dataclasses.asdict(ev)) == ev
    with pytest.raises(ValueError):
        event_from_dict({"kind": "weird"})
    stats = CallStats("c", 1.5, [LegStats("a", 20000, "1.2.3.4:5", True, packets_in=3)])
    assert CallStats.from_dict(dataclasses.asdict(stats)) == stats


async def test_frames() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame({"id": 1, "command": "ping"}))
    reader.feed_data(b"\x00\x00\x00\x02[]")
    reader.feed_data(b"\x7f\xff\xff\xff")
    reader.feed_eof()
    assert await read_frame(reader) == {"id": 1, "command": "ping"}
    with pytest.raises(FrameError, match="not a JSON object"):
        await read_frame(reader)
    with pytest.raises(FrameError, match="exceeds"):
        await read_frame(reader)
    empty = asyncio.StreamReader()
    empty.feed_eof()
    assert await read_frame(empty) is None


async def test_dtmf_reported_when_end_packets_lost() -> None:
    config = RelayConfig(
        bind_ip="127.0.0.1",
        port_min=None,
        port_max=None,
        tick_interval=0.02,
        dtmf_flush_after=0.1,
    )
    alice = await Endpoint.open()
    try:
        async with LocalMediaController(config) as ctl:
            await ctl.offer("c", "atag", alice.sdp(), media_ip="127.0.0.1")
            a_port = relay_port(
                await ctl.answer("c", "atag", "b", alice.sdp(port=9), media_ip="127.0.0.1")
            )
            assert alice.transport is not None
            for i in range(1, 4):  # no End packets at all
                ev = TelephoneEvent(10, False, 10, 160 * i).serialize()
                alice.transport.sendto(
                    RtpPacket(101, i, 777, 1, payload=ev).serialize(), ("127.0.0.1", a_port)
                )
            event = await asyncio.wait_for(ctl.events().__anext__(), 2.0)
            assert event == DtmfEvent("c", "atag", "*", 60)
    finally:
        alice.close()


async def test_worker_status_errors_and_loss_of_worker() -> None:
    worker = await start_worker("--bind-ip", "127.0.0.1", "--ports", "ephemeral")
    client = await WorkerMediaController.connect(worker.host, worker.port)
    try:
        status = await client.status()
        assert status["pid"] == worker.pid and status["loop"].startswith("uvloop")
        assert status["calls"] == 0
        with pytest.raises(Exception, match="unknown command") as info:
            await client.request("frobnicate")
        assert getattr(info.value, "status_hint", None) == 400
        await client.offer("c", "t", Endpoint().sdp(port=4000), media_ip="127.0.0.1")
        assert (await client.status())["calls"] == 1
        # stopping the worker (SIGTERM by PID) is clean and fails the client over
        assert await worker.stop() == 0
        with pytest.raises(WorkerUnavailableError):
            await client.query("c")
        events = [e async for e in client.events()]
        assert events == []
    finally:
        await client.close()
        await worker.stop()
