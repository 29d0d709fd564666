"""Durable scheduled work: periodic jobs run inside ``clickphone serve``.

The work itself keeps its state in the database (what is due, what was done), so a job can
stop at any moment and the next run — here or on another node — carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from clickphone.logging import get_logger

log = get_logger(__name__)


class PeriodicJob:
    """Runs ``work()`` every ``interval`` seconds (first at once when ``at_start``); a
    failure is logged and the next run comes as planned. ``interval`` <= 0: never runs."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        *,
        interval: float,
        at_start: bool = False,
    ) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self.at_start = at_start
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        if not self.at_start:
            await asyncio.sleep(self.interval)
        while True:
            try:
                await self.work()
            except Exception:
                log.exception("job.failed", job=self.name)
            await asyncio.sleep(self.interval)


__all__ = ["PeriodicJob"]
