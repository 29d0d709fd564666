"""PeriodicJob: runs on its interval (at once when asked), survives a failing run, stops."""

from __future__ import annotations

import asyncio

from clickphone.jobs import PeriodicJob


async def test_runs_on_interval_and_survives_failures() -> None:
    runs: list[float] = []

    async def work() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 2:
            raise RuntimeError("one bad run")

    job = PeriodicJob("t", work, interval=0.05, at_start=True)
    await job.start()
    await asyncio.sleep(0.01)
    assert len(runs) == 1  # at once
    await asyncio.sleep(0.2)
    assert len(runs) >= 4  # the failing second run did not stop it
    await job.stop()
    n = len(runs)
    await asyncio.sleep(0.1)
    assert len(runs) == n  # stopped


async def test_waits_an_interval_first_unless_asked_and_zero_never_runs() -> None:
    runs: list[int] = []

    async def work() -> None:
        runs.append(1)

    later = PeriodicJob("later", work, interval=0.2)
    never = PeriodicJob("never", work, interval=0)
    await later.start()
    await never.start()
    await asyncio.sleep(0.05)
    assert runs == []
    await asyncio.sleep(0.25)
    assert runs == [1]
    await later.stop()
    await never.stop()
