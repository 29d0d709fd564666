"""Call recordings: when to record, starting and finishing files, retention, share links.

Driven by bus events, so the B2BUA needs no recording code:

* ``call.answered`` — look up the call record (written before ringing; its ``sip_call_id`` is
  the A-leg Call-ID that names the media session), decide by policy (number rule > employee
  rule > tenant default) and ask the media plane to ``start_recording`` into
  ``<recordings_root>/<tenant>/<yyyy>/<mm>/<dd>/<recording id>.<fmt>``;
* ``call.ended`` — the B2BUA has deleted the media session, which finished the file; ask
  ``stop_recording`` for its :class:`~clickphone.media.control.RecordingInfo`, note its
  duration and size (state ``uploading``) and hand the file to the storage (state ``ready``).

On demand: :meth:`RecordingService.start_on_demand` / :meth:`stop_on_demand` (API) for a
live call. Retention: :meth:`purge_expired` deletes files and rows older than the tenant's
``retention_days``; :meth:`start` runs it periodically.

Storage (:mod:`clickphone.recordings.storage`): the media plane writes the file locally;
when it is finished the storage makes it durable (the local folder keeps it; S3 uploads it
and deletes the local copy) before the recording is marked ready. Playback, download and
retention go through the storage.

No recording is lost when the storage is down: a finished recording is ``uploading`` until
the storage has it, its local file is kept (and played from) meanwhile, and a failed upload
is retried with a doubling backoff (``upload_retry_first`` up to ``upload_retry_max``) by a
background task, which on start also takes over every ``uploading`` recording a previous
process left. The upload is idempotent: a file already gone from disk but present in the
storage (uploaded, then a crash before the row said so) just makes the recording ready; a
file neither on disk nor in the storage makes it ``failed``.
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

from sqlalchemy import delete, func, or_, select
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
UPLOAD_RETRY_FIRST = 5.0  # seconds from a failed upload to its first retry
UPLOAD_RETRY_MAX = 600.0  # the wait doubles after every failure, up to this
UPLOAD_BATCH = 100  # recordings read per query of a retry sweep
KEPT_STATES = ("ready", "uploading")  # a finished file that plays and counts toward usage

MediaGetter = Callable[[], MediaController | None]


class RecordingError(ClickPhoneError):
    error_id = "recording.failed"
    status = 409
    message = "the call cannot be recorded"


class StorageUnavailable(ClickPhoneError):
    error_id = "recording.storage_unavailable"
    status = 503
    message = "the recordings storage cannot be reached; try again later"


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


def upload_backoff(attempts: int, first: float, cap: float) -> float:
    """Seconds from the ``attempts``-th failed upload to the next try: ``first``, twice that,
    four times, ... at most ``cap``."""
    return float(min(cap, first * 2 ** min(max(attempts - 1, 0), 40)))


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
        upload_retry_first: float = UPLOAD_RETRY_FIRST,
        upload_retry_max: float = UPLOAD_RETRY_MAX,
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
        self.upload_retry_first = upload_retry_first
        self.upload_retry_max = upload_retry_max
        self._uploader: asyncio.Task[None] | None = None
        self._upload_wake = asyncio.Event()
        self._uploading: set[str] = set()  # recording ids with an upload in flight here

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = [
            self.bus.subscribe("call.answered", self._on_answered),
            self.bus.subscribe("call.ended", self._on_ended),
        ]
        if self.retention_interval > 0:
            self._retention = asyncio.create_task(self._retention_loop())
        self._uploader = asyncio.create_task(self._upload_loop())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for task in (self._retention, self._uploader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._retention = self._uploader = None
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
        if not path.is_relative_to(self.root.resolve()):
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
        # the file is complete: say so before the upload, so a crash or a storage outage
        # leaves an `uploading` row that a retry (here or in the next process) picks up
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec.id)
            if row is None:
                return rec
            row.path = rel
            row.format = info.format
            row.duration_seconds = info.duration_seconds
            row.size_bytes = info.bytes
            row.state = "uploading"
            row.error = ""
            row.upload_attempts = 0
            # a lease: another process's retry sweep leaves it alone while this one uploads
            row.next_upload_at = datetime.now(UTC) + timedelta(seconds=self.upload_retry_first)
        self._uploading.add(rec.id)
        try:
            try:
                await self.storage.store(rel, path)
            except (StorageError, OSError) as exc:
                log.error("x recording %s: %s (the file stays at %s)", rec.id, exc, path)
                await self._retry_later(rec.id, str(exc))
                self._upload_wake.set()  # the retry task sleeps until the earliest retry
            else:
                await self._mark_ready(rec.id)
                log.info("- %s recording %s ready (%d bytes)", rec.sip_call_id, rec.id, info.bytes)
        finally:
            self._uploading.discard(rec.id)
        async with self.database.session() as session:
            return await session.get(Recording, rec.id) or row

    # -- uploads and their retries ---------------------------------------------------------
    def local_file(self, rec: Recording) -> Path:
        """Where the media plane wrote the recording (it stays there until it is uploaded)."""
        return self.absolute(rec)

    async def upload_pending(self, now: datetime | None = None, *, everything: bool = False) -> int:
        """Try the uploads of ``uploading`` recordings whose retry is due at ``now`` (all of
        them with ``everything``, as on start); return how many became ready."""
        now = now if now is not None else datetime.now(UTC)
        ready, after = 0, ""
        while True:
            async with self.database.session() as session:
                stmt = select(Recording.id, Recording.path).where(
                    Recording.state == "uploading", Recording.id > after
                )
                if not everything:
                    stmt = stmt.where(
                        or_(Recording.next_upload_at.is_(None), Recording.next_upload_at <= now)
                    )
                batch = (
                    await session.execute(stmt.order_by(Recording.id).limit(UPLOAD_BATCH))
                ).all()
            for rec_id, rel in batch:
                if rec_id not in self._uploading and await self._upload(rec_id, rel) == "ready":
                    ready += 1
            if len(batch) < UPLOAD_BATCH:
                return ready
            after = batch[-1][0]

    async def _upload(self, rec_id: str, rel: str) -> str:
        """One upload try of a finished recording; its state afterwards."""
        self._uploading.add(rec_id)
        try:
            local = (self.root / rel).resolve()
            try:
                if not local.is_relative_to(self.root.resolve()):
                    raise StorageError(f"recording path {rel!r} escapes the recordings root")
                if await asyncio.to_thread(local.is_file):
                    await self.storage.store(rel, local)
                elif await self.storage.size(rel) is None:
                    error = f"the file {rel} is missing on disk and in the {self.storage.name}"
                    log.error("x recording %s: %s", rec_id, error)
                    await self._mark_failed(rec_id, error, only_if="uploading")
                    return "failed"
                # else: uploaded before, the row was not updated (a crash): nothing to send
            except (StorageError, OSError) as exc:
                return await self._retry_later(rec_id, str(exc))
            if not await self._mark_ready(rec_id):
                # deleted (retention) while it was uploading: leave no orphan object
                with contextlib.suppress(Exception):
                    await self.storage.delete(rel)
                return "deleted"
            log.info("- recording %s uploaded on retry", rec_id)
            return "ready"
        finally:
            self._uploading.discard(rec_id)

    async def _mark_ready(self, rec_id: str) -> bool:
        """The storage has the file: the recording is ready. False when its row is gone."""
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec_id)
            if row is None or row.state != "uploading":
                return row is not None
            row.state = "ready"
            row.error = ""
            row.next_upload_at = None
            return True

    async def _retry_later(self, rec_id: str, error: str) -> str:
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec_id)
            if row is None or row.state != "uploading":
                return row.state if row is not None else "deleted"
            row.upload_attempts += 1
            delay = upload_backoff(
                row.upload_attempts, self.upload_retry_first, self.upload_retry_max
            )
            row.next_upload_at = datetime.now(UTC) + timedelta(seconds=delay)
            row.error = f"storage: {error}"[:500]
            attempts = row.upload_attempts
        log.warning(
            "x recording %s: upload %d failed (%s); next try in %.1f s",
            rec_id,
            attempts,
            error,
            delay,
        )
        return "uploading"

    async def _next_upload_delay(self) -> float:
        """Seconds until the earliest retry due (at most ``upload_retry_max``)."""
        async with self.database.session() as session:
            stmt = select(func.min(Recording.next_upload_at)).where(Recording.state == "uploading")
            if self._uploading:
                stmt = stmt.where(Recording.id.not_in(list(self._uploading)))
            due = await session.scalar(stmt)
        if due is None:
            return self.upload_retry_max
        if due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        wait = (due - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), self.upload_retry_max)

    async def _upload_loop(self) -> None:
        everything = True  # the first sweep takes over what a previous process left
        while True:
            self._upload_wake.clear()
            try:
                await self.upload_pending(everything=everything)
                everything = False
                delay = await self._next_upload_delay()
            except Exception:
                log.exception("x upload retry sweep failed")
                delay = self.upload_retry_first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._upload_wake.wait(), timeout=delay)

    async def _mark_failed(self, rec_id: str, error: str, *, only_if: str | None = None) -> None:
        async with self.database.transaction() as session:
            row = await session.get(Recording, rec_id)
            if row is not None and (only_if is None or row.state == only_if):
                row.state = "failed"
                row.error = error[:500]
                row.next_upload_at = None

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
                    select(Recording.id, Recording.path, Recording.state)
                    .where(or_(*conds), Recording.state != "recording")
                    .limit(10000)
                )
            ).all()
        if not expired:
            return 0
        deleted: list[str] = []
        for rec_id, rel, state in expired:
            if rec_id in self._uploading:
                continue  # an upload in flight: the next sweep deletes it
            if state == "uploading":
                # the file is still local; the storage may have it too (an upload that
                # succeeded before a crash), but cannot be asked while it is down
                try:
                    await asyncio.to_thread((self.root / rel).unlink, missing_ok=True)
                except OSError as exc:
                    log.warning("retention: cannot delete %s: %s", rel, exc)
                    continue
                try:
                    await self.storage.delete(rel)
                except Exception as exc:
                    log.warning("retention: %s not deleted from the storage: %s", rel, exc)
                deleted.append(rec_id)
                continue
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
