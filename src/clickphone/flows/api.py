"""/api/v1 routes for call flows, module switches, audio prompts and personal forwarding.

Company owners and admins write; every employee of the company reads. Another company's ids
answer 404.

Shapes (the Logic editor codes against these):

- ``GET /flows`` is a page ``{items: [Flow], total, limit, offset}`` (``q`` searches names,
  ``sort`` by ``name``/``updated_at``/``created_at``); ``POST /flows`` ``{name, graph?}`` →
  201 Flow with a minimal valid draft (start → hang up) when no graph is given;
  ``GET/PATCH {name}/DELETE /flows/{id}``.
  Flow = ``{id, tenant_id, name, draft: FlowGraph, problems: [{code, message, severity,
  node_id, edge}], published_version, attachments: [{kind, target_id, label}], created_at,
  updated_at}``; ``problems`` are those of the draft, checked against the company's prompts,
  employees and departments.
- ``PUT /flows/{id}/draft`` ``{graph}`` → Flow. A draft with problems is saved; a document
  that is not a flow graph is 422 ``flow_schema`` with ``details.fields``.
- ``POST /flows/{id}/publish`` → 201 Version (with ``graph``), or 422 ``flow_invalid`` with
  ``details.problems`` (warnings never block). Emits ``flow.published``
  ``{tenant_id, flow_id, version}``.
- ``GET /flows/{id}/versions`` → page of ``{flow_id, version, published_at, published_by,
  published_by_name, rollback_of, current}``, newest first; ``GET .../versions/{n}`` adds
  ``graph``; ``POST .../versions/{n}/rollback`` → 201 Version: a copy of version n published
  as a new number (``rollback_of: n``); the draft becomes that graph too. It is re-checked,
  so a version whose prompt was deleted since is refused with ``flow_invalid``.
- ``PUT /flows/{id}/attachments`` ``[{kind: number|employee|department, target_id}]``
  replaces the flow's targets → ``[{kind, target_id, label}]``; a target outside the company
  is 422 ``validation.failed`` (``details.fields["<index>.target_id"]``), a target of another
  flow 409 ``flow_target_taken`` (``details: {kind, target_id, flow_id}``). Emits
  ``flow.attachments``; ``DELETE /flows/{id}`` emits ``flow.deleted``.
- ``POST /flows/{id}/simulate`` ``{graph?, at, digits, caller?, outcomes?: {node_id:
  answered|no_answer|busy|failed|overflow}, modules?}`` → ``{path: [node ids], trace:
  [{at, node_id, node_type, output, kind, detail}], action: {type, ...}}``. In ``digits``
  each character is the key pressed at the next IVR menu; ``-`` or a space is silence.
- ``GET/PUT /flow-modules`` ``{modules: {name: bool}}``: PUT replaces the stored switches;
  GET also lists (off) every module a draft or live flow names. Emits ``flow.modules``.
- ``POST /prompts``: multipart (``file``, ``name``, ``source``: upload|recorded) or JSON
  ``{name, text, lang: en|ru}`` (espeak-ng) → 201 Prompt ``{id, tenant_id, name, source,
  text, lang, original_filename, original_format, duration_seconds, size_bytes, created_at,
  audio_url}``. Refused audio: 422 ``audio_invalid`` with ``details.reason`` in format,
  too_long, too_short, too_large, silent, clipped. ``GET /prompts`` (page), ``GET
  /prompts/{id}``, ``GET /prompts/{id}/audio`` (the 8 kHz WAV), ``DELETE /prompts/{id}``
  (409 ``prompt_in_use`` with ``details.flow_ids`` while a draft or live flow plays it).
- ``GET/PUT /me/forwarding`` ``{enabled, steps: [{destination, delay: {value, unit:
  seconds|rings}}]}`` → ``{employee_id, extension, enabled, steps}`` with destinations
  normalised (E.164 with the company's default country, or an extension of the company).
  Emits ``flow.forwarding`` ``{tenant_id, employee_id}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from clickphone.accounts.errors import ClickPhoneError, NotFound, ValidationFailed
from clickphone.accounts.scope import Actor, scoped
from clickphone.api.deps import CurrentActor, ListQueryDep, ServicesDep, SessionDep
from clickphone.api.schemas import ERROR_RESPONSES, PageOut
from clickphone.db.listing import paginate
from clickphone.db.models import CallFlow, CallFlowVersion, ForwardingRule, Prompt, new_event_id

from . import audio, service
from .errors import AudioInvalid, FlowInvalid, PromptInUse, TtsFailed
from .forwarding import ForwardingRules
from .interpreter import FlowError, run_simulation
from .schemas import (
    AttachmentIn,
    AttachmentOut,
    DraftIn,
    FlowCreate,
    FlowOut,
    FlowPatch,
    ForwardingIn,
    ForwardingOut,
    ModulesBody,
    ProblemOut,
    PromptOut,
    SimulateIn,
    SimulateOut,
    TraceOut,
    TtsIn,
    VersionDetail,
    VersionOut,
)
from .validate import Known, validate

router = APIRouter(responses=ERROR_RESPONSES)
NO_CONTENT = status.HTTP_204_NO_CONTENT


class UnsupportedMedia(ClickPhoneError):
    error_id = "unsupported_media_type"
    status = 415
    message = "send multipart/form-data (an audio file) or application/json (text to speak)"


# -- flows -----------------------------------------------------------------------------------
async def _flows_out(session: AsyncSession, flows: list[CallFlow]) -> list[FlowOut]:
    attachments = await service.attachments_of(session, [f.id for f in flows])
    labels = await service.attachment_labels(
        session, [a for rows in attachments.values() for a in rows]
    )
    known: dict[int, Known] = {}
    out = []
    for flow in flows:
        if flow.tenant_id not in known:
            known[flow.tenant_id] = await service.known_ids(session, flow.tenant_id)
        graph = service.stored_graph(flow.draft)
        problems = validate(graph, known[flow.tenant_id])
        out.append(
            FlowOut(
                id=flow.id,
                tenant_id=flow.tenant_id,
                name=flow.name,
                draft=graph,
                problems=[ProblemOut(**service.problem_dict(p)) for p in problems],
                published_version=flow.published_version,
                attachments=[
                    AttachmentOut(
                        kind=a.kind,  # type: ignore[arg-type]
                        target_id=a.target_id,
                        label=labels.get((a.kind, a.target_id), ""),
                    )
                    for a in attachments[flow.id]
                ],
                created_at=flow.created_at,
                updated_at=flow.updated_at,
            )
        )
    return out


async def _flow_out(session: AsyncSession, flow: CallFlow) -> FlowOut:
    return (await _flows_out(session, [flow]))[0]


@router.get("/flows", tags=["flows"])
async def list_flows(
    actor: CurrentActor, session: SessionDep, lq: ListQueryDep
) -> PageOut[FlowOut]:
    actor.require_company_member()
    page = await paginate(
        session,
        scoped(select(CallFlow), CallFlow, actor),
        lq,
        sortable={
            "name": CallFlow.name,
            "updated_at": CallFlow.updated_at,
            "created_at": CallFlow.created_at,
            "id": CallFlow.id,
        },
        searchable=[CallFlow.name],
        default_sort="name",
        tiebreak=CallFlow.id,
    )
    return PageOut[FlowOut](
        items=await _flows_out(session, list(page.items)),
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/flows", status_code=status.HTTP_201_CREATED, tags=["flows"])
async def create_flow(body: FlowCreate, actor: CurrentActor, session: SessionDep) -> FlowOut:
    flow = await service.create_flow(session, actor, body.name, body.graph, body.tenant_id)
    return await _flow_out(session, flow)


@router.get("/flows/{flow_id}", tags=["flows"])
async def get_flow(flow_id: int, actor: CurrentActor, session: SessionDep) -> FlowOut:
    return await _flow_out(session, await service.get_flow(session, actor, flow_id))


@router.patch("/flows/{flow_id}", tags=["flows"])
async def patch_flow(
    flow_id: int, body: FlowPatch, actor: CurrentActor, session: SessionDep
) -> FlowOut:
    if body.name is None:
        flow = await service.get_flow(session, actor, flow_id)
        actor.require_manager()
    else:
        flow = await service.rename_flow(session, actor, flow_id, body.name)
    return await _flow_out(session, flow)


@router.delete("/flows/{flow_id}", status_code=NO_CONTENT, tags=["flows"])
async def delete_flow(flow_id: int, actor: CurrentActor, session: SessionDep) -> Response:
    await service.delete_flow(session, actor, flow_id)
    return Response(status_code=NO_CONTENT)


@router.put("/flows/{flow_id}/draft", tags=["flows"])
async def save_draft(
    flow_id: int, body: DraftIn, actor: CurrentActor, session: SessionDep
) -> FlowOut:
    """Save the draft (even with problems); the answer lists them, named on their nodes."""
    flow = await service.save_draft(session, actor, flow_id, body.graph)
    return await _flow_out(session, flow)


async def _version_detail(
    session: AsyncSession, flow: CallFlow, row: CallFlowVersion
) -> VersionDetail:
    names = await service.publisher_names(session, [row.published_by])
    return VersionDetail(
        flow_id=row.flow_id,
        version=row.version,
        published_at=row.published_at,
        published_by=row.published_by,
        published_by_name=names.get(row.published_by or 0, ""),
        rollback_of=row.rollback_of,
        current=row.version == flow.published_version,
        graph=service.stored_graph(row.graph),
    )


@router.post("/flows/{flow_id}/publish", status_code=status.HTTP_201_CREATED, tags=["flows"])
async def publish_flow(flow_id: int, actor: CurrentActor, session: SessionDep) -> VersionDetail:
    """Publish the draft as a new version (refused with every problem when it has errors);
    the next call uses it."""
    row = await service.publish(session, actor, flow_id)
    flow = await service.get_flow(session, actor, flow_id)
    return await _version_detail(session, flow, row)


@router.get("/flows/{flow_id}/versions", tags=["flows"])
async def list_versions(
    flow_id: int, actor: CurrentActor, session: SessionDep, lq: ListQueryDep
) -> PageOut[VersionOut]:
    flow = await service.get_flow(session, actor, flow_id)
    page = await paginate(
        session,
        select(CallFlowVersion).where(CallFlowVersion.flow_id == flow.id),
        lq,
        sortable={"version": CallFlowVersion.version},
        default_sort="-version",
    )
    rows: list[CallFlowVersion] = list(page.items)
    names = await service.publisher_names(session, [r.published_by for r in rows])
    items = []
    for r in rows:
        item = VersionOut.model_validate(r)
        item.published_by_name = names.get(r.published_by or 0, "")
        item.current = r.version == flow.published_version
        items.append(item)
    return PageOut[VersionOut](items=items, total=page.total, limit=page.limit, offset=page.offset)


@router.get("/flows/{flow_id}/versions/{version}", tags=["flows"])
async def get_version(
    flow_id: int, version: int, actor: CurrentActor, session: SessionDep
) -> VersionDetail:
    flow, row = await service.get_version(session, actor, flow_id, version)
    return await _version_detail(session, flow, row)


@router.post(
    "/flows/{flow_id}/versions/{version}/rollback",
    status_code=status.HTTP_201_CREATED,
    tags=["flows"],
)
async def rollback_version(
    flow_id: int, version: int, actor: CurrentActor, session: SessionDep
) -> VersionDetail:
    """Make version ``version`` live again, as a new version number (history is kept)."""
    row = await service.rollback(session, actor, flow_id, version)
    flow = await service.get_flow(session, actor, flow_id)
    return await _version_detail(session, flow, row)


@router.put("/flows/{flow_id}/attachments", tags=["flows"])
async def put_attachments(
    flow_id: int,
    body: list[AttachmentIn],
    actor: CurrentActor,
    session: SessionDep,
) -> list[AttachmentOut]:
    """What the flow answers: virtual numbers, employees, departments (replaces the list)."""
    if len(body) > 200:
        raise ValidationFailed({"body": "at most 200 targets"})
    rows = await service.set_attachments(
        session, actor, flow_id, [(a.kind, a.target_id) for a in body]
    )
    labels = await service.attachment_labels(session, rows)
    return [
        AttachmentOut(
            kind=a.kind,  # type: ignore[arg-type]
            target_id=a.target_id,
            label=labels.get((a.kind, a.target_id), ""),
        )
        for a in rows
    ]


def action_dict(action: Any) -> dict[str, Any]:
    """An interpreter action as JSON: ``{"type": "ring", ...its fields}``."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(action).__name__).lower()
    out: dict[str, Any] = {"type": name}
    for f in dataclasses.fields(action):
        value = getattr(action, f.name)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


@router.post("/flows/{flow_id}/simulate", tags=["flows"])
async def simulate_flow(
    flow_id: int, body: SimulateIn, actor: CurrentActor, session: SessionDep
) -> SimulateOut:
    """Walk the flow as a test call at ``at`` with the keys in ``digits``; the path to
    highlight, the trace and where the call ends."""
    flow = await service.get_flow(session, actor, flow_id)
    graph = (
        service.parse_graph(body.graph)
        if body.graph is not None
        else service.stored_graph(flow.draft)
    )
    modules = (
        body.modules
        if body.modules is not None
        else await service.stored_modules(session, flow.tenant_id)
    )
    keys: list[str | None] = [None if k in "- " else k for k in body.digits]
    try:
        sim = run_simulation(
            graph,
            body.at,
            keys,
            modules=modules,
            node_outcomes=body.outcomes,
            caller=body.caller,
        )
    except FlowError:
        problems = await service.check(session, flow.tenant_id, graph)
        raise FlowInvalid([service.problem_dict(p) for p in problems]) from None
    return SimulateOut(
        path=list(sim.path),
        trace=[
            TraceOut(
                at=t.at,
                node_id=t.node_id,
                node_type=t.node_type,
                output=t.output,
                kind=t.kind,
                detail=t.detail,
            )
            for t in sim.trace
        ],
        action=action_dict(sim.end),
    )


# -- modules ---------------------------------------------------------------------------------
@router.get("/flow-modules", tags=["flows"])
async def get_modules(
    actor: CurrentActor,
    session: SessionDep,
    tenant_id: Annotated[int | None, Query(description="operator staff only")] = None,
) -> ModulesBody:
    """Module switches; modules a flow names but nobody switched yet are listed as off."""
    actor.require_company_member()
    tid = actor.tenant_for_create(tenant_id)
    return ModulesBody(modules=await service.modules_view(session, tid))


@router.put("/flow-modules", tags=["flows"])
async def put_modules(
    body: ModulesBody,
    actor: CurrentActor,
    session: SessionDep,
    tenant_id: Annotated[int | None, Query(description="operator staff only")] = None,
) -> ModulesBody:
    """Switch modules on or off (the next call sees it; no graph is edited)."""
    actor.require_company_member()
    actor.require_manager()
    if len(body.modules) > 100:
        raise ValidationFailed({"modules": "at most 100 modules"})
    tid = actor.tenant_for_create(tenant_id)
    await service.set_modules(session, tid, body.modules)
    return ModulesBody(modules=await service.modules_view(session, tid))


# -- prompts ---------------------------------------------------------------------------------
def _prompt_out(row: Prompt) -> PromptOut:
    out = PromptOut.model_validate(row)
    out.audio_url = f"/api/v1/prompts/{row.id}/audio"
    return out


_PROMPT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 200},
                        "source": {"type": "string", "enum": ["upload", "recorded"]},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["name", "text"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 200},
                        "text": {"type": "string", "maxLength": 2000},
                        "lang": {"type": "string", "enum": ["en", "ru"]},
                    },
                }
            },
        },
    }
}


def _form_text(value: Any, field: str, *, required: bool = True, limit: int = 200) -> str:
    if value is None or isinstance(value, UploadFile):
        if required:
            raise ValidationFailed({field: "required"})
        return ""
    text = str(value).strip()
    if required and not text:
        raise ValidationFailed({field: "required"})
    if len(text) > limit:
        raise ValidationFailed({field: f"at most {limit} characters"})
    return text


@router.post(
    "/prompts",
    status_code=status.HTTP_201_CREATED,
    tags=["prompts"],
    openapi_extra=_PROMPT_BODY,
)
async def create_prompt(
    request: Request,
    actor: CurrentActor,
    services: ServicesDep,
    session: SessionDep,
    tenant_id: Annotated[int | None, Query(description="operator staff only")] = None,
) -> PromptOut:
    """Upload a prompt (WAV, MP3, OGG, WebM/Opus from the browser's recorder) or render text
    with espeak-ng. The audio is checked (format, 0.3 s–5 min, ≤ 20 MB, not silent, not
    clipped) and stored as a level-normalised 8 kHz mono WAV."""
    actor.require_company_member()
    actor.require_manager()
    tenant_id = actor.tenant_for_create(tenant_id)
    ctype = request.headers.get("content-type", "").lower()
    prompt_id = new_event_id()
    data_dir = services.settings.data_dir
    wav = service.prompt_dir(data_dir, tenant_id) / f"{prompt_id}.wav"
    files = [wav]
    if ctype.startswith("multipart/form-data"):
        length = int(request.headers.get("content-length") or 0)
        if length > audio.MAX_BYTES + 64 * 1024:
            raise AudioInvalid("too_large", f"larger than {audio.MAX_BYTES // 2**20} MB")
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed({"file": "attach the audio file"})
            name = _form_text(form.get("name"), "name")
            source = _form_text(form.get("source"), "source", required=False) or "upload"
            if source not in ("upload", "recorded"):
                raise ValidationFailed({"source": "upload or recorded"})
            filename = (upload.filename or "")[:255]
            data = await upload.read(audio.MAX_BYTES + 1)
        try:
            prepared = await asyncio.to_thread(audio.prepare, data)
        except audio.AudioRejected as exc:
            raise AudioInvalid(exc.reason, exc.message) from None
        ext = {"webm": ".webm", "mp4": ".m4a"}.get(prepared.container, f".{prepared.container}")
        original = wav.with_name(f"{prompt_id}.orig{ext}")
        files.append(original)
        await asyncio.to_thread(audio.write_atomic, original, data)
        await asyncio.to_thread(audio.write_wav, wav, prepared.pcm)
        row = Prompt(
            id=prompt_id,
            tenant_id=tenant_id,
            name=name,
            source=source,
            original_filename=filename,
            original_format=prepared.container,
            duration_seconds=round(prepared.duration, 3),
            size_bytes=len(data),
            created_by=actor.user_id,
        )
    elif ctype.startswith("application/json"):
        try:
            tts = TtsIn.model_validate_json(await request.body())
        except ValidationError as exc:
            fields = {
                ".".join(str(p) for p in e["loc"]) or "body": str(e["msg"]) for e in exc.errors()
            }
            raise ValidationFailed(fields) from None
        try:
            prepared = await audio.render_tts(tts.text, tts.lang, wav)
        except audio.TtsUnavailable as exc:
            raise TtsFailed(str(exc)) from None
        except audio.AudioRejected as exc:
            raise AudioInvalid(exc.reason, exc.message) from None
        row = Prompt(
            id=prompt_id,
            tenant_id=tenant_id,
            name=tts.name,
            source="tts",
            text=tts.text,
            lang=tts.lang,
            original_format="tts",
            duration_seconds=round(prepared.duration, 3),
            size_bytes=wav.stat().st_size,
            created_by=actor.user_id,
        )
    else:
        raise UnsupportedMedia()
    session.add(row)
    try:
        await session.commit()
    except BaseException:
        for f in files:
            f.unlink(missing_ok=True)
        raise
    return _prompt_out(row)


@router.get("/prompts", tags=["prompts"])
async def list_prompts(
    actor: CurrentActor, session: SessionDep, lq: ListQueryDep
) -> PageOut[PromptOut]:
    actor.require_company_member()
    page = await paginate(
        session,
        scoped(select(Prompt), Prompt, actor),
        lq,
        sortable={
            "name": Prompt.name,
            "created_at": Prompt.created_at,
            "duration_seconds": Prompt.duration_seconds,
        },
        searchable=[Prompt.name, Prompt.text],
        default_sort="-created_at",
        tiebreak=Prompt.id,
    )
    return PageOut[PromptOut](
        items=[_prompt_out(p) for p in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/prompts/{prompt_id}", tags=["prompts"])
async def get_prompt(prompt_id: str, actor: CurrentActor, session: SessionDep) -> PromptOut:
    return _prompt_out(await service.get_prompt(session, actor, prompt_id))


@router.get("/prompts/{prompt_id}/audio", tags=["prompts"], response_class=FileResponse)
async def prompt_audio(
    prompt_id: str, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> FileResponse:
    """The prompt as calls play it: an 8 kHz mono WAV."""
    row = await service.get_prompt(session, actor, prompt_id)
    path = service.prompt_wav(services.settings.data_dir, row.tenant_id, row.id)
    if path is None or not path.exists():
        raise NotFound("the prompt's audio file is missing")
    return FileResponse(path, media_type="audio/wav", filename=f"{row.id}.wav")


@router.delete("/prompts/{prompt_id}", status_code=NO_CONTENT, tags=["prompts"])
async def delete_prompt(
    prompt_id: str, actor: CurrentActor, services: ServicesDep, session: SessionDep
) -> Response:
    row = await service.get_prompt(session, actor, prompt_id)
    actor.require_manager()
    users = await service.flows_using_prompt(session, row.tenant_id, row.id)
    if users:
        raise PromptInUse(details={"flow_ids": users})
    folder = service.prompt_dir(services.settings.data_dir, row.tenant_id)
    await session.delete(row)
    await session.commit()
    for f in folder.glob(f"{row.id}.*"):
        f.unlink(missing_ok=True)
    return Response(status_code=NO_CONTENT)


# -- personal forwarding ---------------------------------------------------------------------
async def _forwarding_out(session: AsyncSession, actor: Actor) -> ForwardingOut:
    emp = await service.my_employee(session, actor)
    rules = service.rules_of(await session.get(ForwardingRule, emp.id))
    return ForwardingOut(
        employee_id=emp.id, extension=emp.extension, enabled=rules.enabled, steps=list(rules.steps)
    )


@router.get("/me/forwarding", tags=["me"])
async def get_forwarding(actor: CurrentActor, session: SessionDep) -> ForwardingOut:
    """My forwarding: an ordered chain of numbers or extensions, each after a delay (the first
    delay is how long my own phones ring first; 0 forwards immediately)."""
    return await _forwarding_out(session, actor)


@router.put("/me/forwarding", tags=["me"])
async def put_forwarding(
    body: ForwardingIn, actor: CurrentActor, session: SessionDep
) -> ForwardingOut:
    emp = await service.my_employee(session, actor)
    rules = ForwardingRules(enabled=body.enabled, steps=tuple(body.steps))
    clean = await service.save_forwarding(session, emp, rules)
    return ForwardingOut(
        employee_id=emp.id, extension=emp.extension, enabled=clean.enabled, steps=list(clean.steps)
    )
