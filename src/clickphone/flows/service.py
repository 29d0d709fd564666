"""Call flows with the database: drafts, versions, attachments, modules, prompts, forwarding.

Every function takes the caller's session and commits its own change (events go to the
outbox in the same transaction). Tenant isolation: rows are loaded with
``clickphone.accounts.scope``; another tenant's id is a :class:`NotFound`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import NotFound, ValidationFailed
from clickphone.accounts.scope import Actor, get_scoped
from clickphone.bus.outbox import add_event
from clickphone.db.models import (
    CallFlow,
    CallFlowAttachment,
    CallFlowVersion,
    Department,
    Employee,
    FlowModule,
    ForwardingRule,
    PhoneNumber,
    Prompt,
    TenantPhoneSettings,
    User,
    utcnow,
)
from clickphone.trunks.dialplan import normalize

from .errors import FlowInvalid, FlowNameTaken, FlowSchemaInvalid, FlowTargetTaken
from .forwarding import ForwardingRules, ForwardingStep
from .model import (
    Edge,
    FlowGraph,
    HangupNode,
    ModuleSwitchNode,
    Position,
    StartNode,
    dump_json,
)
from .validate import Known, Problem, prompt_refs, publishable, validate

PROMPT_ID = re.compile(r"^[0-9a-f]{32}$")
_EXTENSION = re.compile(r"^\d{2,8}$")


# -- graphs ----------------------------------------------------------------------------------
def default_graph() -> FlowGraph:
    """A new flow's draft: the smallest valid graph (start → hang up)."""
    return FlowGraph(
        nodes=(
            StartNode(id="start", label="Start", position=Position(x=0, y=0)),
            HangupNode(id="hangup", label="Hang up", position=Position(x=0, y=150)),
        ),
        edges=(Edge(source="start", output="next", target="hangup"),),
    )


def graph_doc(graph: FlowGraph) -> dict[str, Any]:
    """The canonical JSON document of ``graph`` (what the tables store)."""
    doc: dict[str, Any] = json.loads(dump_json(graph))
    return doc


def parse_graph(doc: dict[str, Any]) -> FlowGraph:
    """A graph from a client's document, or :class:`FlowSchemaInvalid` naming the fields."""
    try:
        return FlowGraph.model_validate(doc)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "graph"
            fields.setdefault(loc, str(err.get("msg", "")))
        raise FlowSchemaInvalid(fields) from None


def stored_graph(doc: dict[str, Any]) -> FlowGraph:
    """A graph this service stored (it was schema-valid when written)."""
    return FlowGraph.model_validate(doc)


def problem_dict(p: Problem) -> dict[str, Any]:
    edge = None
    if p.edge is not None:
        edge = {"source": p.edge.source, "output": p.edge.output, "target": p.edge.target}
    return {
        "code": p.code,
        "message": p.message,
        "severity": p.severity,
        "node_id": p.node_id,
        "edge": edge,
    }


async def known_ids(session: AsyncSession, tenant_id: int) -> Known:
    prompts = await session.scalars(select(Prompt.id).where(Prompt.tenant_id == tenant_id))
    emps = await session.scalars(select(Employee.id).where(Employee.tenant_id == tenant_id))
    deps = await session.scalars(select(Department.id).where(Department.tenant_id == tenant_id))
    return Known(prompts=set(prompts.all()), employees=set(emps.all()), departments=set(deps))


async def check(session: AsyncSession, tenant_id: int, graph: FlowGraph) -> list[Problem]:
    return validate(graph, await known_ids(session, tenant_id))


# -- flows -----------------------------------------------------------------------------------
async def get_flow(session: AsyncSession, actor: Actor, flow_id: int) -> CallFlow:
    actor.require_company_member()
    return await get_scoped(session, CallFlow, flow_id, actor)


async def _commit_named(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise FlowNameTaken(
            details={"fields": {"name": "a call flow with this name exists"}}
        ) from None


async def create_flow(
    session: AsyncSession,
    actor: Actor,
    name: str,
    graph: dict[str, Any] | None,
    tenant_id: int | None,
) -> CallFlow:
    actor.require_company_member()
    actor.require_manager()
    tid = actor.tenant_for_create(tenant_id)
    draft = parse_graph(graph) if graph is not None else default_graph()
    flow = CallFlow(tenant_id=tid, name=name, draft=graph_doc(draft))
    session.add(flow)
    await _commit_named(session)
    return flow


async def rename_flow(session: AsyncSession, actor: Actor, flow_id: int, name: str) -> CallFlow:
    flow = await get_flow(session, actor, flow_id)
    actor.require_manager()
    flow.name = name
    await _commit_named(session)
    return flow


async def save_draft(
    session: AsyncSession, actor: Actor, flow_id: int, doc: dict[str, Any]
) -> CallFlow:
    flow = await get_flow(session, actor, flow_id)
    actor.require_manager()
    flow.draft = graph_doc(parse_graph(doc))
    flow.updated_at = utcnow()
    await session.commit()
    return flow


async def delete_flow(session: AsyncSession, actor: Actor, flow_id: int) -> None:
    flow = await get_flow(session, actor, flow_id)
    actor.require_manager()
    await session.execute(delete(CallFlowAttachment).where(CallFlowAttachment.flow_id == flow.id))
    await session.execute(delete(CallFlowVersion).where(CallFlowVersion.flow_id == flow.id))
    await session.delete(flow)
    add_event(
        session, "flow.deleted", {"tenant_id": flow.tenant_id, "flow_id": flow.id}, flow.tenant_id
    )
    await session.commit()


async def _publish(
    session: AsyncSession,
    actor: Actor,
    flow: CallFlow,
    graph: FlowGraph,
    rollback_of: int | None,
) -> CallFlowVersion:
    problems = await check(session, flow.tenant_id, graph)
    if not publishable(problems):
        raise FlowInvalid([problem_dict(p) for p in problems])
    last = await session.scalar(
        select(func.max(CallFlowVersion.version)).where(CallFlowVersion.flow_id == flow.id)
    )
    number = int(last or 0) + 1
    row = CallFlowVersion(
        tenant_id=flow.tenant_id,
        flow_id=flow.id,
        version=number,
        graph=graph_doc(graph.model_copy(update={"version": number})),
        published_at=utcnow(),
        published_by=actor.user_id,
        rollback_of=rollback_of,
    )
    session.add(row)
    flow.published_version = number
    flow.updated_at = utcnow()
    add_event(
        session,
        "flow.published",
        {"tenant_id": flow.tenant_id, "flow_id": flow.id, "version": number},
        flow.tenant_id,
    )
    try:
        await session.commit()
    except IntegrityError:  # two publishes at once took the same number
        await session.rollback()
        raise ValidationFailed(
            {"version": "another publish happened at the same time; try again"}
        ) from None
    return row


async def publish(session: AsyncSession, actor: Actor, flow_id: int) -> CallFlowVersion:
    flow = await get_flow(session, actor, flow_id)
    actor.require_manager()
    return await _publish(session, actor, flow, stored_graph(flow.draft), None)


async def get_version(
    session: AsyncSession, actor: Actor, flow_id: int, number: int
) -> tuple[CallFlow, CallFlowVersion]:
    flow = await get_flow(session, actor, flow_id)
    row = await session.scalar(
        select(CallFlowVersion).where(
            CallFlowVersion.flow_id == flow.id, CallFlowVersion.version == number
        )
    )
    if row is None:
        raise NotFound(f"version {number} of flow {flow_id} not found")
    return flow, row


async def rollback(
    session: AsyncSession, actor: Actor, flow_id: int, number: int
) -> CallFlowVersion:
    """Publish a copy of version ``number`` as a new version; the draft becomes that graph."""
    flow, old = await get_version(session, actor, flow_id, number)
    actor.require_manager()
    graph = stored_graph(old.graph)
    flow.draft = graph_doc(graph)
    return await _publish(session, actor, flow, graph, number)


async def publisher_names(session: AsyncSession, user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows.all()}


# -- attachments -----------------------------------------------------------------------------
async def attachment_labels(
    session: AsyncSession, rows: Iterable[CallFlowAttachment]
) -> dict[tuple[str, int], str]:
    by_kind: dict[str, set[int]] = {"number": set(), "employee": set(), "department": set()}
    for a in rows:
        by_kind[a.kind].add(a.target_id)
    labels: dict[tuple[str, int], str] = {}
    if by_kind["number"]:
        q = select(PhoneNumber.id, PhoneNumber.e164, PhoneNumber.label).where(
            PhoneNumber.id.in_(by_kind["number"])
        )
        for nid, e164, label in (await session.execute(q)).all():
            labels[("number", nid)] = f"{e164} ({label})" if label else e164
    if by_kind["employee"]:
        q2 = (
            select(Employee.id, Employee.extension, User.full_name)
            .join(User, User.id == Employee.user_id)
            .where(Employee.id.in_(by_kind["employee"]))
        )
        for eid, ext, name in (await session.execute(q2)).all():
            labels[("employee", eid)] = f"{name} ({ext})" if ext else name
    if by_kind["department"]:
        q3 = select(Department.id, Department.name, Department.extension).where(
            Department.id.in_(by_kind["department"])
        )
        for did, name, ext in (await session.execute(q3)).all():
            labels[("department", did)] = f"{name} ({ext})" if ext else name
    return labels


async def attachments_of(
    session: AsyncSession, flow_ids: list[int]
) -> dict[int, list[CallFlowAttachment]]:
    out: dict[int, list[CallFlowAttachment]] = {fid: [] for fid in flow_ids}
    if flow_ids:
        rows = await session.scalars(
            select(CallFlowAttachment)
            .where(CallFlowAttachment.flow_id.in_(flow_ids))
            .order_by(CallFlowAttachment.kind, CallFlowAttachment.target_id)
        )
        for a in rows.all():
            out[a.flow_id].append(a)
    return out


_TARGET_MODELS: dict[str, Any] = {
    "number": PhoneNumber,
    "employee": Employee,
    "department": Department,
}


async def set_attachments(
    session: AsyncSession, actor: Actor, flow_id: int, targets: list[tuple[str, int]]
) -> list[CallFlowAttachment]:
    flow = await get_flow(session, actor, flow_id)
    actor.require_manager()
    wanted = list(dict.fromkeys(targets))
    for index, (kind, target_id) in enumerate(wanted):
        row = await session.get(_TARGET_MODELS[kind], target_id)
        if row is None or row.tenant_id != flow.tenant_id:
            raise ValidationFailed({f"{index}.target_id": f"no such {kind} in this company"})
    for kind, target_id in wanted:
        other = await session.scalar(
            select(CallFlowAttachment).where(
                CallFlowAttachment.kind == kind,
                CallFlowAttachment.target_id == target_id,
                CallFlowAttachment.flow_id != flow.id,
            )
        )
        if other is None:
            continue
        if other.tenant_id != flow.tenant_id:
            await session.delete(other)  # left from before the number changed hands
            continue
        taken_by = await session.get(CallFlow, other.flow_id)
        owner = taken_by.name if taken_by else str(other.flow_id)
        raise FlowTargetTaken(
            f"this {kind} already has the call flow {owner!r}",
            details={"kind": kind, "target_id": target_id, "flow_id": other.flow_id},
        )
    current = (
        await session.scalars(
            select(CallFlowAttachment).where(CallFlowAttachment.flow_id == flow.id)
        )
    ).all()
    keep = set(wanted)
    for a in current:
        if (a.kind, a.target_id) not in keep:
            await session.delete(a)
    have = {(a.kind, a.target_id) for a in current}
    await session.flush()
    for kind, target_id in wanted:
        if (kind, target_id) not in have:
            session.add(
                CallFlowAttachment(
                    tenant_id=flow.tenant_id, flow_id=flow.id, kind=kind, target_id=target_id
                )
            )
    add_event(
        session,
        "flow.attachments",
        {"tenant_id": flow.tenant_id, "flow_id": flow.id},
        flow.tenant_id,
    )
    try:
        await session.commit()
    except IntegrityError:  # attached elsewhere at the same moment
        await session.rollback()
        raise FlowTargetTaken() from None
    return (await attachments_of(session, [flow.id]))[flow.id]


# -- modules ---------------------------------------------------------------------------------
def modules_in(graph: FlowGraph) -> set[str]:
    return {n.module for n in graph.nodes if isinstance(n, ModuleSwitchNode) and n.module.strip()}


async def stored_modules(session: AsyncSession, tenant_id: int) -> dict[str, bool]:
    rows = await session.execute(
        select(FlowModule.name, FlowModule.enabled).where(FlowModule.tenant_id == tenant_id)
    )
    return {name: bool(enabled) for name, enabled in rows.all()}


async def modules_view(session: AsyncSession, tenant_id: int) -> dict[str, bool]:
    """Stored switches plus every module a flow of the tenant mentions (off until set)."""
    out: dict[str, bool] = {}
    drafts = await session.scalars(select(CallFlow.draft).where(CallFlow.tenant_id == tenant_id))
    for doc in drafts.all():
        for name in modules_in(stored_graph(doc)):
            out[name] = False
    live = await session.scalars(
        select(CallFlowVersion.graph)
        .join(CallFlow, CallFlow.id == CallFlowVersion.flow_id)
        .where(
            CallFlow.tenant_id == tenant_id,
            CallFlowVersion.version == CallFlow.published_version,
        )
    )
    for doc in live.all():
        for name in modules_in(stored_graph(doc)):
            out[name] = False
    out.update(await stored_modules(session, tenant_id))
    return dict(sorted(out.items()))


async def set_modules(session: AsyncSession, tenant_id: int, modules: dict[str, bool]) -> None:
    await session.execute(delete(FlowModule).where(FlowModule.tenant_id == tenant_id))
    for name, enabled in modules.items():
        session.add(FlowModule(tenant_id=tenant_id, name=name, enabled=enabled))
    add_event(session, "flow.modules", {"tenant_id": tenant_id, "modules": modules}, tenant_id)
    await session.commit()


# -- prompts ---------------------------------------------------------------------------------
def prompt_dir(data_dir: Path, tenant_id: int) -> Path:
    return data_dir / "prompts" / str(int(tenant_id))


def prompt_wav(data_dir: Path, tenant_id: int, prompt_id: str) -> Path | None:
    """The normalised WAV of a prompt id (None for an id that cannot be one)."""
    if not PROMPT_ID.match(prompt_id):
        return None
    return prompt_dir(data_dir, tenant_id) / f"{prompt_id}.wav"


async def get_prompt(session: AsyncSession, actor: Actor, prompt_id: str) -> Prompt:
    actor.require_company_member()
    row = await session.get(Prompt, prompt_id) if PROMPT_ID.match(prompt_id) else None
    if row is None or (not actor.is_operator and row.tenant_id != actor.tenant_id):
        raise NotFound(f"prompt {prompt_id} not found")
    return row


def prompts_used_by(graph: FlowGraph) -> set[str]:
    return {pid for node in graph.nodes for _, pid in prompt_refs(node)}


async def flows_using_prompt(session: AsyncSession, tenant_id: int, prompt_id: str) -> list[int]:
    """Flows whose draft or live version plays ``prompt_id``."""
    used: set[int] = set()
    flows = (await session.scalars(select(CallFlow).where(CallFlow.tenant_id == tenant_id))).all()
    live = {
        v.flow_id: v.graph
        for v in (
            await session.scalars(
                select(CallFlowVersion)
                .join(CallFlow, CallFlow.id == CallFlowVersion.flow_id)
                .where(
                    CallFlow.tenant_id == tenant_id,
                    CallFlowVersion.version == CallFlow.published_version,
                )
            )
        ).all()
    }
    for flow in flows:
        for doc in (flow.draft, live.get(flow.id)):
            if doc is not None and prompt_id in prompts_used_by(stored_graph(doc)):
                used.add(flow.id)
    return sorted(used)


# -- personal forwarding ---------------------------------------------------------------------
async def my_employee(session: AsyncSession, actor: Actor) -> Employee:
    emp = await session.scalar(select(Employee).where(Employee.user_id == actor.user_id))
    if emp is None:
        raise NotFound("forwarding is for employees with an extension")
    return emp


def rules_of(row: ForwardingRule | None) -> ForwardingRules:
    if row is None:
        return ForwardingRules()
    return ForwardingRules(enabled=row.enabled, steps=tuple(row.steps or ()))  # type: ignore[arg-type]


async def normalise_destination(
    session: AsyncSession, tenant_id: int, raw: str, own_extension: str | None
) -> str | None:
    """An extension of the company (employee or department) or an E.164 number, else None."""
    text = raw.strip()
    if _EXTENSION.match(text):
        if text == own_extension:
            return None
        emp = await session.scalar(
            select(Employee.id).where(Employee.tenant_id == tenant_id, Employee.extension == text)
        )
        dep = await session.scalar(
            select(Department.id).where(
                Department.tenant_id == tenant_id, Department.extension == text
            )
        )
        if emp is not None or dep is not None:
            return text
    country = await session.scalar(
        select(TenantPhoneSettings.default_country).where(
            TenantPhoneSettings.tenant_id == tenant_id
        )
    )
    return normalize(text, country or "RU")


async def save_forwarding(
    session: AsyncSession, emp: Employee, rules: ForwardingRules
) -> ForwardingRules:
    steps: list[ForwardingStep] = []
    errors: dict[str, str] = {}
    for index, step in enumerate(rules.steps):
        dest = await normalise_destination(session, emp.tenant_id, step.destination, emp.extension)
        if dest is None:
            errors[f"steps.{index}.destination"] = (
                "forwarding to your own extension would loop"
                if step.destination.strip() == emp.extension
                else "neither a phone number nor an extension of this company"
            )
        else:
            steps.append(step.model_copy(update={"destination": dest}))
    if errors:
        raise ValidationFailed(errors)
    clean = ForwardingRules(enabled=rules.enabled, steps=tuple(steps))
    row = await session.get(ForwardingRule, emp.id)
    if row is None:
        row = ForwardingRule(employee_id=emp.id, tenant_id=emp.tenant_id)
        session.add(row)
    row.enabled = clean.enabled
    row.steps = [s.model_dump(mode="json") for s in clean.steps]
    row.updated_at = utcnow()
    add_event(
        session,
        "flow.forwarding",
        {"tenant_id": emp.tenant_id, "employee_id": emp.id},
        emp.tenant_id,
    )
    await session.commit()
    return clean
