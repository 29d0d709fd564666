"""Call recordings: when to record, starting and finishing files, retention, share links.

Driven by bus events, so the B2BUA needs no recording code:

* ``call.answered`` — look up the call record (written before ringing; its ``sip_call_id`` is
  the A-leg Call-ID that names the media session), decide by policy (number rule > employee
  rule > tenant default) and ask the media plane to ``start_recording`` into
  ``<recordings_root>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.<fmt>``;
* ``call.ended`` — the B2BUA has deleted the media session, which finished the file; ask
  ``stop_recording`` for its :class:`~clickphone.media.control.RecordingInfo` and mark the
  recording ready with its duration and size.

On demand: :meth:`RecordingService.start_on_demand` / :meth:`stop_on_demand` (API) for a
live call. Retention: :meth:`purge_expired` deletes files and rows older than the tenant's
``retention_days``; :meth:`start` runs it periodically.

Storage (:mod:`clickphone.recordings.storage`): the media plane writes the file locally;
when it is finished the storage makes it durable (the local folder keeps it; S3 uploads it
and deletes the local copy) before the recording is marked ready. Playback, download and
retention go through the storage.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import ClickPhoneError
from clickphone.bus.bus import EventBus
from clickphone.bus.events import Event
from clickphone.db.models import (
    CallRecord,
    Recording,
    RecordingRule,
    RecordingSettings,
    new_event_id,
)
from clickphone.db.session import Database
from clickphone.media.control import MediaController, MediaError
from clickphone.recordings.storage import LocalStorage, RecordingStorage, StorageError

log = logging.getLogger("clickphone.recordings")

DEFAULT_RETENTION_DAYS = 90

MediaGetter = Callable[[], MediaController | None]


class RecordingError(ClickPhoneError):
    error_id = "recording.failed"
    status = 409
    message = "the call cannot be recorded"


async def recording_wanted(session: AsyncSession, record: CallRecord) -> bool:
    """The policy: a number rule beats an employee rule beats the tenant's default."""
    numbers = [n for n in (record.caller, record.callee) if n]
    employees = [e for e in (record.caller_employee_id, record.callee_employee_id) if e]
    conds = []
    if numbers:
        conds.append(RecordingRule.number.in_(numbers))
    if employees:
        conds.append(RecordingRule.employee_id.in_(employees))
    if conds:
        rules = (
            await session.scalars(
                select(RecordingRule).where(
                    RecordingRule.tenant_id == record.tenant_id, or_(*conds)
                )
            )
        ).all()
        by_number = [r.enabled for r in rules if r.number is not None]
        if by_number:
            return any(by_number)
        by_employee = [r.enabled for r in rules if r.employee_id is not None]
        if by_employee:
            return any(by_employee)
    settings = await session.get(RecordingSettings, record.tenant_id)
    return bool(settings is not None and settings.enabled)


class ShareSigner:
    """Expiring share links: ``<recording id>.<expiry>.<hmac>``, HMAC-SHA256 with a key
    derived from the server secret (so a leaked link names one recording until it expires)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"recording-share:" + secret.encode()).digest()

    def _mac(self, recording_id: str, expires: int) -> str:
        msg = f"{recording_id}.{expires}".encode()
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, recording_id: str, expires: int) -> str:
        return f"{recording_id}.{expires}.{self._mac(recording_id, expires)}"

    def verify(self, token: str, now: float) -> str | None:
        """The recording id, or None when the token is forged, malformed or expired."""
        parts = token.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        recording_id, expires_s, mac = parts
        if not hmac.compare_digest(mac, self._mac(recording_id, int(expires_s))):
            return None
        return recording_id if int(expires_s) > now else None


class RecordingService:
    def __init__(
        self,
        database: Database,
        bus: EventBus,
        media: MediaGetter,
        *,
        root: Path,
        fmt: str = "ogg",
        secret: str = "",
        retention_interval: float = 3600.0,
        storage: RecordingStorage | None = None,
    ) -> None:
        self.database = database
        self.bus = bus
        self.media = media
        self.root = root
        self.storage = storage if storage is not None else LocalStorage(root)
        self.fmt = fmt
        self.signer = ShareSigner(secret)
        self.retention_interval = retention_interval
        self._unsubscribe: list[Callable[[], None]] = []
        self._starting: dict[str, asyncio.Task[Recording | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retention: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = [
            self.bus.subscribe("call.answered", self._on_answered),
            self.bus.subscribe("call.ended", self._on_ended),
        ]
        if self.retention_interval > 0:
            self._retention = asyncio.create_task(self._retention_loop())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
            self._retention = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        await self.storage.close()

    async def drain(self) -> None:
        """Wait until event-driven work in flight is done (tests)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- bus handlers (quick: the B2BUA awaits them) -----------------------------------------
    async def _on_answered(self, event: Event) -> None:
        call_id = str(event.payload.get("id", ""))
        if call_id:
            self._starting[call_id] = self._spawn(self._start_by_policy(call_id))

    async def _on_ended(self, event: Event) -> None:
        call_id = str(event.payload.get("id", ""))
        if call_id:
            self._spawn(self._finish_call(call_id))

    async def _start_by_policy(self, call_id: str) -> Recording | None:
        try:
            async with self.database.session() as session:
                record = await session.get(CallRecord, call_id)
                if record is None or not await recording_wanted(session, record):
                    return None
            return await self._start(record, on_demand=False)
        except Exception:
            log.exception("x %s cannot start recording", call_id)
            return None

    async def _finish_call(self, call_id: str) -> None:
        starting = self._starting.pop(call_id, None)
        if starting is not None:
            await asyncio.wait([starting])
        async with self.database.session() as session:
            active = (
                await session.scalars(
                    select(Recording).where(
                        Recording.call_record_id == call_id, Recording.state == "recording"
                    )
                )
            ).all()
        for rec in active:
            await self._finish(rec)

    # -- start / finish --------------------------------------------------------------------
    def absolute(self, rec: Recording) -> Path:
        path = (self.root / rec.path).resolve()
        if not path.is_relative_to(self.root):
            raise RecordingError(f"recording path {rec.path!r} escapes the recordings root")
        return path

    async def _start(self, record: CallRecord, *, on_demand: bool) -> Recording:
        media = self.media()
        if media is None:
            raise RecordingError("no media plane is running")
        now = datetime.now(UTC)
        rec_id = new_event_id()
        rel = f"{record.tenant_id}/{now:%Y/%m/%d}/{rec_id}.{self.fmt}"
        rec = Recording(
            id=rec_id,
            tenant_id=record.tenant_id,
            call_record_id=record.id,
            sip_call_id=record.sip_call_id,
            caller_employee_id=record.caller_employee_id,
            callee_employee_id=record.callee_employee_id,
            path=rel,
            format=self.fmt,
            state="recording",
            on_demand=on_demand,
            started_at=now,
        )
        async with self.database.transaction() as session:
            session.add(rec)
        try:
            await media.start_recording(record.sip_call_id, str(self.root / rel))
        except MediaError as exc:
            await self._mark_failed(rec.id, str(exc))
            raise RecordingError(f"cannot record call {record.id}: {exc}") from exc
        log.info("- %s recording %s started", record.sip_call_id, rec.id)
        return rec

    async def _finish(self, rec: Recording) -> Recording:
        media = self.media()
        if media is None:
            await self._mark_failed(rec.id, "no media plane")
            return rec
        try:
            info = await media.stop_recording(rec.sip_call_id)
        except MediaError as exc:
            await self._mark_failed(rec.id, str(exc))
            return rec
        path = Path(info.path)
        rel = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else rec.path
        try:
            await self.storage.store(rel, path)
        except (StorageError, OSError) as exc:
            log.error("x recording %s: %s (the file stays at %s)", rec.id, exc, path)
            await self._mark_failed(rec.id, f"storage: {exc}")
            return rec
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec.id)
            if row is None:
                return rec
            row.path = rel
            row.format = info.format
            row.duration_seconds = info.duration_seconds
            row.size_bytes = info.bytes
            row.state = "ready"
        log.info("- %s recording %s ready (%d bytes)", rec.sip_call_id, rec.id, info.bytes)
        return row

    async def _mark_failed(self, rec_id: str, error: str) -> None:
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec_id)
            if row is not None:
                row.state = "failed"
                row.error = error[:500]

    async def start_on_demand(self, record: CallRecord) -> Recording:
        if record.outcome != "in_progress":
            raise RecordingError(f"call {record.id} is not in progress")
        async with self.database.session() as session:
            running = await session.scalar(
                select(Recording).where(
                    Recording.call_record_id == record.id, Recording.state == "recording"
                )
            )
        if running is not None:
            return running
        return await self._start(record, on_demand=True)

    async def stop_on_demand(self, record: CallRecord) -> list[Recording]:
        async with self.database.session() as session:
            active = (
                await session.scalars(
                    select(Recording).where(
                        Recording.call_record_id == record.id, Recording.state == "recording"
                    )
                )
            ).all()
        return [await self._finish(rec) for rec in active]

    # -- retention -------------------------------------------------------------------------
    async def purge_expired(self, now: float | None = None) -> int:
        """Delete recordings older than their tenant's retention; return how many."""
        now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        async with self.database.session() as session:
            custom = dict(
                (
                    await session.execute(
                        select(RecordingSettings.tenant_id, RecordingSettings.retention_days)
                    )
                ).all()
            )
            conds = [
                (Recording.tenant_id == tenant)
                & (Recording.started_at < now_dt - timedelta(days=days))
                for tenant, days in custom.items()
            ]
            default_cut = now_dt - timedelta(days=DEFAULT_RETENTION_DAYS)
            conds.append(
                Recording.tenant_id.not_in(list(custom)) & (Recording.started_at < default_cut)
            )
            expired = (
                await session.execute(
                    select(Recording.id, Recording.path)
                    .where(or_(*conds), Recording.state != "recording")
                    .limit(10000)
                )
            ).all()
        if not expired:
            return 0
        deleted: list[str] = []
        for rec_id, rel in expired:
            try:
                await self.storage.delete(rel)
            except Exception as exc:  # the row stays for the next sweep
                log.warning("retention: cannot delete %s: %s", rel, exc)
                continue
            deleted.append(rec_id)
        if deleted:
            async with self.database.transaction() as session:
                await session.execute(delete(Recording).where(Recording.id.in_(deleted)))
        log.info("retention: deleted %d recording(s)", len(deleted))
        return len(deleted)

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retention_interval)
            try:
                await self.purge_expired()
            except Exception:
                log.exception("x retention sweep failed")
