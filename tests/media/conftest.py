"""Controller and endpoint fixtures for the media tests (helpers live in rtpfakes.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from clickphone.media.client import WorkerMediaController
from clickphone.media.control import MediaController
from clickphone.media.relay import LocalMediaController, RelayConfig
from clickphone.media.worker import start_worker
from media.rtpfakes import RTP_TIMEOUT, TICK, Endpoint


@pytest.fixture
async def endpoints() -> AsyncIterator[list[Endpoint]]:
    opened: list[Endpoint] = []

    async def factory() -> Endpoint:
        ep = await Endpoint.open()
        opened.append(ep)
        return ep

    eps = [await factory() for _ in range(3)]
    yield eps
    for ep in opened:
        ep.close()
    await asyncio.sleep(0)


@pytest.fixture(params=["local", "worker"])
async def controller(request: pytest.FixtureRequest) -> AsyncIterator[MediaController]:
    if request.param == "local":
        config = RelayConfig(
            bind_ip="127.0.0.1",
            port_min=None,
            port_max=None,
            tick_interval=TICK,
            rtp_timeout=RTP_TIMEOUT,
        )
        async with LocalMediaController(config) as ctl:
            yield ctl
        return
    worker = await start_worker(
        "--bind-ip",
        "127.0.0.1",
        "--ports",
        "ephemeral",
        "--tick",
        str(TICK),
        "--rtp-timeout",
        str(RTP_TIMEOUT),
    )
    try:
        client = await WorkerMediaController.connect(worker.host, worker.port)
        try:
            yield client
        finally:
            await client.close()
    finally:
        with contextlib.suppress(ProcessLookupError):
            assert await worker.stop() == 0
