"""/api/v1 routes for call recordings: list, usage, playback with HTTP ranges, download,
share links, settings and rules, and recording a live call on demand.

Access: company owners and admins see every recording of the company; an employee sees the
recordings of calls they made or received; a share link lets any signed-in member of the same
company play one recording until the link expires.

The router's lifespan creates the :class:`RecordingService` (``services.extra["recordings"]``)
after the app's services (telephony) have started, so no change to app assembly is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, or_, select, union_all

from clickphone.accounts.errors import NotFound, PermissionDenied, ValidationFailed
from clickphone.accounts.scope import Actor, scoped
from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.models import (
    CallRecord,
    Employee,
    Recording,
    RecordingRule,
    RecordingSettings,
    User,
)
from clickphone.recordings.service import (
    DEFAULT_RETENTION_DAYS,
    KEPT_STATES,
    RecordingError,
    RecordingService,
    StorageUnavailable,
)
from clickphone.recordings.storage import StorageError, storage_from_settings

log = logging.getLogger("clickphone.recordings")

MEDIA_TYPES = {"ogg": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = app.state.services
    settings = services.settings

    def media() -> Any:
        return getattr(services.extra.get("telephony"), "media", None)

    service = RecordingService(
        services.database,
        services.bus,
        media,
        root=settings.recordings_root,
        fmt=settings.recording_format,
        secret=settings.ensure_secret_key(),
        retention_interval=settings.recording_retention_interval,
        storage=storage_from_settings(settings, settings.recordings_root),
    )
    services.extra["recordings"] = service
    await service.start()
    try:
        yield
    finally:
        await service.stop()


router = APIRouter(responses=ERROR_RESPONSES, tags=["recordings"], lifespan=lifespan)


def _service(services: Any) -> RecordingService:
    svc = services.extra.get("recordings")
    if svc is None:
        raise NotFound("recordings are not available")
    assert isinstance(svc, RecordingService)
    return svc


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: int
    call_record_id: str | None
    caller_employee_id: int | None
    callee_employee_id: int | None
    format: str
    state: str
    on_demand: bool
    started_at: datetime
    duration_seconds: float
    size_bytes: int
    caller: str = ""
    caller_name: str = ""
    callee: str = ""
    direction: str = ""
    audio_url: str = ""


class RecordingPageOut(PageOut[RecordingOut]):
    total_bytes: int


async def _own_employee_ids(session: Any, actor: Actor) -> list[int]:
    rows = await session.scalars(select(Employee.id).where(Employee.user_id == actor.user_id))
    return list(rows.all())


async def _visible(stmt: Select[Any], session: Any, actor: Actor) -> Select[Any]:
    stmt = scoped(stmt, Recording, actor)
    if not actor.can_manage_tenant:
        own = await _own_employee_ids(session, actor)
        stmt = stmt.where(
            or_(Recording.caller_employee_id.in_(own), Recording.callee_employee_id.in_(own))
        )
    return stmt


def _out(rec: Recording, call: CallRecord | None) -> RecordingOut:
    out = RecordingOut.model_validate(rec)
    out.audio_url = f"/api/v1/recordings/{rec.id}/audio"
    if call is not None:
        out.caller, out.caller_name = call.caller, call.caller_name
        out.callee, out.direction = call.callee, call.direction
    return out


@router.get("/recordings")
async def list_recordings(
    actor: CurrentActor,
    session: SessionDep,
    lq: ListQueryDep,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    employee_id: Annotated[int | None, Query()] = None,
    call_record_id: Annotated[str | None, Query(max_length=32)] = None,
) -> RecordingPageOut:
    """Recordings, newest first, with the total size of the matching ones (``total_bytes``).
    ``q`` searches the call's numbers and caller name. ``state`` is ``recording`` (the call
    goes on), ``uploading`` (finished and playable, waiting for the upload to the storage) or
    ``ready``."""
    stmt = await _visible(select(Recording), session, actor)
    stmt = stmt.where(Recording.state != "failed")
    if date_from is not None:
        stmt = stmt.where(Recording.started_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Recording.started_at < date_to)
    if employee_id is not None:
        stmt = stmt.where(
            or_(
                Recording.caller_employee_id == employee_id,
                Recording.callee_employee_id == employee_id,
            )
        )
    if call_record_id is not None:
        stmt = stmt.where(Recording.call_record_id == call_record_id)
    if lq.q:
        pattern = f"%{lq.q.strip().lower()}%"
        stmt = stmt.join(CallRecord, CallRecord.id == Recording.call_record_id).where(
            or_(
                func.lower(CallRecord.caller).like(pattern),
                func.lower(CallRecord.callee).like(pattern),
                func.lower(CallRecord.caller_name).like(pattern),
            )
        )
    sorts = {
        "started_at": Recording.started_at,
        "size_bytes": Recording.size_bytes,
        "duration_seconds": Recording.duration_seconds,
    }
    sort = lq.sort or "-started_at"
    col = sorts.get(sort.lstrip("-+"))
    if col is None:
        raise ValidationFailed({"sort": f"use one of {sorted(sorts)}"})
    sub = stmt.subquery()
    total, total_bytes = (
        await session.execute(select(func.count(), func.coalesce(func.sum(sub.c.size_bytes), 0)))
    ).one()
    order = [col.desc(), Recording.id.desc()] if sort.startswith("-") else [col, Recording.id]
    rows = (await session.scalars(stmt.order_by(*order).limit(lq.limit).offset(lq.offset))).all()
    ids = [r.call_record_id for r in rows if r.call_record_id]
    calls = {
        c.id: c
        for c in (await session.scalars(select(CallRecord).where(CallRecord.id.in_(ids)))).all()
    }
    return RecordingPageOut(
        items=[_out(r, calls.get(r.call_record_id or "")) for r in rows],
        total=int(total),
        total_bytes=int(total_bytes),
        limit=lq.limit,
        offset=lq.offset,
    )


class EmployeeUsageOut(BaseModel):
    employee_id: int
    name: str
    extension: str | None
    recordings: int
    bytes: int


class UsageOut(BaseModel):
    tenant_id: int | None
    recordings: int
    bytes: int
    by_employee: list[EmployeeUsageOut]


@router.get("/recordings/usage")
async def recordings_usage(actor: CurrentActor, session: SessionDep) -> UsageOut:
    """Total size of the company's recordings (ready ones and those waiting for their
    upload), and per employee (a recording of a call between two employees counts for both)."""
    actor.require_manager()
    base = scoped(select(Recording), Recording, actor).where(Recording.state.in_(KEPT_STATES))
    sub = base.subquery()
    count, total = (
        await session.execute(select(func.count(), func.coalesce(func.sum(sub.c.size_bytes), 0)))
    ).one()
    sides = union_all(
        select(sub.c.caller_employee_id.label("eid"), sub.c.size_bytes.label("size")).where(
            sub.c.caller_employee_id.is_not(None)
        ),
        select(sub.c.callee_employee_id.label("eid"), sub.c.size_bytes.label("size")).where(
            sub.c.callee_employee_id.is_not(None),
            or_(
                sub.c.caller_employee_id.is_(None),
                sub.c.caller_employee_id != sub.c.callee_employee_id,
            ),
        ),
    ).subquery()
    rows = (
        await session.execute(
            select(
                sides.c.eid,
                User.full_name,
                Employee.extension,
                func.count(),
                func.sum(sides.c.size),
            )
            .join(Employee, Employee.id == sides.c.eid)
            .join(User, User.id == Employee.user_id)
            .group_by(sides.c.eid, User.full_name, Employee.extension)
            .order_by(func.sum(sides.c.size).desc())
        )
    ).all()
    return UsageOut(
        tenant_id=actor.tenant_id,
        recordings=int(count),
        bytes=int(total),
        by_employee=[
            EmployeeUsageOut(
                employee_id=r[0], name=r[1], extension=r[2], recordings=r[3], bytes=int(r[4])
            )
            for r in rows
        ],
    )


class RecordingSettingsIn(BaseModel):
    enabled: bool
    retention_days: int = Field(ge=1, le=3650)


class RecordingSettingsOut(RecordingSettingsIn):
    tenant_id: int


def _tenant(actor: Actor, tenant_id: int | None) -> int:
    return actor.tenant_for_create(tenant_id)


@router.get("/recordings/settings")
async def get_settings(
    actor: CurrentActor, session: SessionDep, tenant_id: int | None = None
) -> RecordingSettingsOut:
    tid = _tenant(actor, tenant_id)
    row = await session.get(RecordingSettings, tid)
    if row is None:
        return RecordingSettingsOut(
            tenant_id=tid, enabled=False, retention_days=DEFAULT_RETENTION_DAYS
        )
    return RecordingSettingsOut(
        tenant_id=tid, enabled=row.enabled, retention_days=row.retention_days
    )


@router.put("/recordings/settings")
async def put_settings(
    body: RecordingSettingsIn,
    actor: CurrentActor,
    session: SessionDep,
    tenant_id: int | None = None,
) -> RecordingSettingsOut:
    """Record every call of the company by default (``enabled``) and keep recordings for
    ``retention_days`` (older ones are deleted automatically)."""
    actor.require_manager()
    tid = _tenant(actor, tenant_id)
    row = await session.get(RecordingSettings, tid)
    if row is None:
        row = RecordingSettings(tenant_id=tid)
        session.add(row)
    row.enabled, row.retention_days = body.enabled, body.retention_days
    await session.commit()
    return RecordingSettingsOut(tenant_id=tid, **body.model_dump())


class RuleIn(BaseModel):
    employee_id: int | None = None
    number: str | None = Field(default=None, min_length=1, max_length=64)
    enabled: bool = True


class RuleOut(RuleIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int


@router.get("/recordings/rules")
async def list_rules(actor: CurrentActor, session: SessionDep) -> list[RuleOut]:
    actor.require_manager()
    rows = await session.scalars(
        scoped(select(RecordingRule), RecordingRule, actor).order_by(RecordingRule.id)
    )
    return [RuleOut.model_validate(r) for r in rows.all()]


@router.post("/recordings/rules", status_code=201)
async def put_rule(
    body: RuleIn, actor: CurrentActor, session: SessionDep, tenant_id: int | None = None
) -> RuleOut:
    """Recording on or off for one employee or one number (replaces an existing rule)."""
    actor.require_manager()
    if (body.employee_id is None) == (body.number is None):
        raise ValidationFailed({"employee_id": "give exactly one of employee_id and number"})
    tid = _tenant(actor, tenant_id)
    if body.employee_id is not None:
        emp = await session.get(Employee, body.employee_id)
        if emp is None or emp.tenant_id != tid:
            raise NotFound(f"employee {body.employee_id} not found")
    row = await session.scalar(
        select(RecordingRule).where(
            RecordingRule.tenant_id == tid,
            RecordingRule.employee_id == body.employee_id
            if body.employee_id is not None
            else RecordingRule.number == body.number,
        )
    )
    if row is None:
        row = RecordingRule(tenant_id=tid, employee_id=body.employee_id, number=body.number)
        session.add(row)
    row.enabled = body.enabled
    await session.commit()
    return RuleOut.model_validate(row)


@router.delete("/recordings/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: int, actor: CurrentActor, session: SessionDep) -> Response:
    actor.require_manager()
    row = await session.get(RecordingRule, rule_id)
    if row is None or (not actor.is_operator and row.tenant_id != actor.tenant_id):
        raise NotFound(f"rule {rule_id} not found")
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)


async def _get_visible(session: Any, actor: Actor, recording_id: str) -> Recording:
    stmt = await _visible(select(Recording), session, actor)
    rec = await session.scalar(stmt.where(Recording.id == recording_id))
    if rec is None:
        raise NotFound(f"recording {recording_id} not found")
    assert isinstance(rec, Recording)
    return rec


@router.get("/recordings/{recording_id}")
async def get_recording(
    recording_id: str, actor: CurrentActor, session: SessionDep
) -> RecordingOut:
    rec = await _get_visible(session, actor, recording_id)
    call = await session.get(CallRecord, rec.call_record_id) if rec.call_record_id else None
    return _out(rec, call)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last inclusive) a ``Range`` header asks for; None for the
    whole file (no header, not bytes, several ranges); ValueError when unsatisfiable."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:]
    if "," in spec:
        return None
    first_s, sep, last_s = spec.strip().partition("-")
    first_s, last_s = first_s.strip(), last_s.strip()
    if not sep or not (first_s or last_s) or not (first_s + last_s).isdigit():
        return None
    first = int(first_s) if first_s else -1
    last = int(last_s) if last_s else size - 1
    if first == -1:  # the last N bytes
        if last <= 0:
            raise ValueError(header)
        return max(0, size - last), size - 1
    if first >= size:
        raise ValueError(header)
    if first < 0 or first > last:
        return None
    return first, min(last, size - 1)


async def _file_response(
    service: RecordingService, rec: Recording, download: bool, range_header: str | None
) -> Response:
    if rec.state not in KEPT_STATES:
        raise NotFound(f"recording {rec.id} is not ready")
    stamp = rec.started_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    media_type = MEDIA_TYPES.get(rec.format, "application/octet-stream")
    filename = f"call-{stamp}-{rec.id[:8]}.{rec.format}"
    disposition = "attachment" if download else "inline"
    try:
        local = service.storage.local_path(rec.path)
    except StorageError as exc:
        raise NotFound(f"the file of recording {rec.id} is missing") from exc
    if local is None and rec.state == "uploading":
        # not in the remote storage yet: the finished file is still on this machine (when
        # the upload has just finished and deleted it, the storage has it)
        try:
            pending = service.local_file(rec)
        except RecordingError as exc:
            raise NotFound(f"the file of recording {rec.id} is missing") from exc
        if pending.is_file():
            local = pending
    if local is not None:
        if not local.is_file():
            raise NotFound(f"the file of recording {rec.id} is missing")
        return FileResponse(
            local,
            media_type=media_type,
            filename=filename,
            content_disposition_type=disposition,
            headers={"Cache-Control": "private, max-age=300"},
        )
    # remote storage: proxy the bytes (one range at a time) through the API
    try:
        size = await service.storage.size(rec.path)
    except StorageError as exc:
        log.warning("x recording %s: %s", rec.id, exc)
        raise StorageUnavailable() from exc
    if size is None:
        raise NotFound(f"the file of recording {rec.id} is missing")
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
    }
    try:
        wanted = parse_range(range_header, size)
    except ValueError:
        return Response(status_code=416, headers=headers | {"Content-Range": f"bytes */{size}"})
    if size == 0:
        return Response(b"", media_type=media_type, headers=headers)
    first, last = wanted if wanted is not None else (0, size - 1)
    headers["Content-Length"] = str(last - first + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(
        service.storage.read(rec.path, first, last),
        status_code=206 if wanted is not None else 200,
        media_type=media_type,
        headers=headers,
    )


@router.get("/recordings/{recording_id}/audio", response_class=FileResponse)
async def recording_audio(
    recording_id: str,
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
    download: bool = False,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The audio file; supports ``Range`` (206 Partial Content) for seeking. ``download=1``
    sends it as an attachment."""
    rec = await _get_visible(session, actor, recording_id)
    return await _file_response(_service(services), rec, download, range_header)


class ShareIn(BaseModel):
    ttl_seconds: int = Field(default=24 * 3600, ge=60)


class ShareOut(BaseModel):
    token: str
    url: str
    expires_at: datetime


@router.post("/recordings/{recording_id}/share")
async def share_recording(
    recording_id: str,
    body: ShareIn,
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
) -> ShareOut:
    """An expiring link to this recording for colleagues: whoever opens it must be signed
    in to the same company."""
    rec = await _get_visible(session, actor, recording_id)
    ttl = min(body.ttl_seconds, services.settings.recording_share_ttl)
    expires = int(time.time()) + ttl
    token = _service(services).signer.sign(rec.id, expires)
    return ShareOut(
        token=token,
        url=f"/api/v1/recordings/shared/{token}",
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


@router.get("/recordings/shared/{token}", response_class=FileResponse)
async def shared_recording(
    token: str,
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
    download: bool = False,
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    service = _service(services)
    recording_id = service.signer.verify(token, time.time())
    if recording_id is None:
        raise PermissionDenied("this share link is invalid or has expired")
    rec = await session.get(Recording, recording_id)
    if rec is None or (not actor.is_operator and rec.tenant_id != actor.tenant_id):
        raise NotFound("recording not found")
    return await _file_response(service, rec, download, range_header)


class LiveRecordingOut(BaseModel):
    recordings: list[RecordingOut]


async def _live_call(session: Any, actor: Actor, call_id: str) -> CallRecord:
    record = await session.get(CallRecord, call_id)
    if record is None or (not actor.is_operator and record.tenant_id != actor.tenant_id):
        raise NotFound(f"call {call_id} not found")
    if not actor.can_manage_tenant:
        own = await _own_employee_ids(session, actor)
        if record.caller_employee_id not in own and record.callee_employee_id not in own:
            raise NotFound(f"call {call_id} not found")
    assert isinstance(record, CallRecord)
    return record


@router.post("/calls/{call_id}/recording")
async def start_call_recording(
    call_id: str, actor: CurrentActor, session: SessionDep, services: ServicesDep
) -> RecordingOut:
    """Start recording a call in progress (a party of the call or a company admin)."""
    record = await _live_call(session, actor, call_id)
    rec = await _service(services).start_on_demand(record)
    return _out(rec, record)


@router.delete("/calls/{call_id}/recording")
async def stop_call_recording(
    call_id: str,
    actor: CurrentActor,
    session: SessionDep,
    services: ServicesDep,
) -> LiveRecordingOut:
    """Stop recording a call in progress; the file is ready when this returns."""
    record = await _live_call(session, actor, call_id)
    done = await _service(services).stop_on_demand(record)
    return LiveRecordingOut(recordings=[_out(r, record) for r in done])
