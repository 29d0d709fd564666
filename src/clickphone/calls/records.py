"""Call records (CDRs), written durably with group commit.

A record is inserted when the call is accepted for routing (before any callee rings) and
completed when it ends, together with a ``call.record`` outbox event in the same transaction.
The B2BUA awaits each write, so a record exists on disk before the phones ring and its final
state is on disk before ``call.ended`` is published; a crash in between leaves the record
``in_progress``, and :meth:`CallRecorder.recover` closes such records on the next start.

Writes from concurrent calls are batched into one transaction (one fsync) per round, so the
cost per call stays small under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update

from clickphone.bus.outbox import add_event
from clickphone.db.models import CallRecord
from clickphone.db.session import Database

log = logging.getLogger("clickphone.calls")

OUTCOMES = ("in_progress", "answered", "missed", "busy", "failed", "cancelled")


def _dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


@dataclass
class _Op:
    """One change: a new record (``insert``) or a finished one (``update`` + its event)."""

    insert: dict[str, Any] | None = None
    update: dict[str, Any] | None = None
    event: tuple[dict[str, Any], int] | None = None  # (payload, tenant_id)
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CallRecorder:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._queue: list[_Op] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def recover(self, now: float) -> int:
        """Close records a crash left in progress; return how many."""
        async with self.database.transaction() as session:
            result = await session.execute(
                update(CallRecord)
                .where(CallRecord.outcome == "in_progress")
                .values(outcome="failed", end_reason="interrupted", ended_at=_dt(now))
            )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning("closed %d call record(s) left in progress by a crash", count)
        return count

    async def _submit(self, op: _Op) -> None:
        self._queue.append(op)
        self._wake.set()
        if self._task is None:
            await self._flush()
        await op.done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Shielded: a stop() during a batch lets that batch finish.
            await asyncio.shield(self._flush())

    async def _flush(self) -> None:
        """Write everything queued in one transaction with one statement per kind (inserts,
        then updates, then outbox events): the cost per batch barely grows with its size."""
        while self._queue:
            batch, self._queue = self._queue, []
            inserts = [op.insert for op in batch if op.insert is not None]
            updates = [op.update for op in batch if op.update is not None]
            try:
                async with self.database.transaction() as session:
                    if inserts:
                        await session.execute(insert(CallRecord), inserts)
                    if updates:
                        await session.execute(update(CallRecord), updates)
                    for op in batch:
                        if op.event is not None:
                            payload, tenant_id = op.event
                            add_event(session, "call.record", payload, tenant_id=tenant_id)
            except Exception as exc:
                log.exception("x failed to write %d call record change(s)", len(batch))
                for op in batch:
                    if not op.done.done():
                        op.done.set_exception(exc)
                continue
            for op in batch:
                if not op.done.done():
                    op.done.set_result(None)

    # -- the record's life ---------------------------------------------------------------
    async def started(
        self,
        *,
        record_id: str,
        tenant_id: int,
        sip_call_id: str,
        direction: str,
        caller: str,
        caller_name: str,
        caller_employee_id: int | None,
        callee: str,
        callee_employee_id: int | None,
        started_at: float,
        line: str | None = None,
    ) -> None:
        """``line``: our virtual number (E.164) the call came in on or went out through, or
        ``trunk:<name>`` when there is none — the statistics' "by line" chart."""
        await self._submit(
            _Op(
                insert={
                    "id": record_id,
                    "tenant_id": tenant_id,
                    "sip_call_id": sip_call_id[:500],
                    "direction": direction,
                    "caller": caller[:64],
                    "caller_name": caller_name[:200],
                    "caller_employee_id": caller_employee_id,
                    "callee": callee[:64],
                    "callee_employee_id": callee_employee_id,
                    "started_at": _dt(started_at),
                    "ring_seconds": 0.0,
                    "talk_seconds": 0.0,
                    "outcome": "in_progress",
                    "end_reason": "",
                    "legs": [],
                    "trace": [],
                    "line": line[:64] if line else None,
                }
            )
        )

    async def finished(
        self,
        record_id: str,
        *,
        tenant_id: int,
        direction: str,
        caller: str,
        callee: str,
        answered_at: float | None,
        ended_at: float,
        started_at: float,
        outcome: str,
        end_reason: str,
        legs: list[dict[str, Any]],
        trace: list[dict[str, Any]],
    ) -> None:
        ring = round(max(0.0, (answered_at or ended_at) - started_at), 3)
        talk = round(max(0.0, ended_at - answered_at), 3) if answered_at is not None else 0.0
        await self._submit(
            _Op(
                update={
                    "id": record_id,
                    "direction": direction,  # a click-to-call learns it once routed
                    "answered_at": _dt(answered_at),
                    "ended_at": _dt(ended_at),
                    "ring_seconds": ring,
                    "talk_seconds": talk,
                    "outcome": outcome,
                    "end_reason": end_reason[:100],
                    "legs": legs,
                    "trace": trace,
                },
                event=(
                    {
                        "id": record_id,
                        "direction": direction,
                        "caller": caller[:64],
                        "callee": callee[:64],
                        "outcome": outcome,
                        "talk_seconds": talk,
                        "ring_seconds": ring,
                    },
                    tenant_id,
                ),
            )
        )
