"""What the call runtime asks about flows: the live flow of a number, employee or department,
a company's module switches, an employee's forwarding, and prompt audio files.

Answers are cached in memory (published flows rarely change; "no flow" is cached too). The
runtime calls :meth:`FlowResolver.forget` on ``flow.*`` events (``flow.published``,
``flow.attachments``, ``flow.deleted``, ``flow.modules``, ``flow.forwarding``), so the next
call sees the change without a restart. A lookup that started before a ``forget`` does not
store its (possibly stale) answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select

from clickphone.db.models import (
    CallFlow,
    CallFlowAttachment,
    CallFlowVersion,
    Employee,
    ForwardingRule,
)
from clickphone.db.session import Database

from . import audio, service
from .forwarding import forwarding_graph
from .model import FlowGraph

TargetKind = Literal["number", "employee", "department"]


@dataclass(frozen=True)
class PublishedFlow:
    flow_id: int
    version: int
    graph: FlowGraph


class FlowResolver:
    def __init__(self, database: Database, data_dir: Path) -> None:
        self.database = database
        self.data_dir = data_dir
        self._flows: dict[tuple[int, str, int], PublishedFlow | None] = {}
        self._modules: dict[int, dict[str, bool]] = {}
        self._forwarding: dict[int, tuple[int, FlowGraph | None]] = {}  # employee → (tenant, g)
        self._generation: dict[int | None, int] = {}
        self._tts_locks: dict[str, asyncio.Lock] = {}

    # -- cache bookkeeping ---------------------------------------------------------------
    def _stamp(self, tenant_id: int) -> tuple[int, int]:
        return self._generation.get(None, 0), self._generation.get(tenant_id, 0)

    def forget(self, tenant_id: int | None = None) -> None:
        """Drop cached answers (of one tenant, or all); the next lookup reads the database."""
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        if tenant_id is None:
            self._flows.clear()
            self._modules.clear()
            self._forwarding.clear()
            return
        for key in [k for k in self._flows if k[0] == tenant_id]:
            del self._flows[key]
        self._modules.pop(tenant_id, None)
        for emp in [e for e, (t, _) in self._forwarding.items() if t == tenant_id]:
            del self._forwarding[emp]

    # -- flows ---------------------------------------------------------------------------
    async def flow_for(
        self, tenant_id: int, kind: TargetKind, target_id: int
    ) -> PublishedFlow | None:
        """The live flow attached to the target, or None (no flow, or never published)."""
        key = (tenant_id, kind, target_id)
        if key in self._flows:
            return self._flows[key]
        stamp = self._stamp(tenant_id)
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(CallFlow.id, CallFlowVersion.version, CallFlowVersion.graph)
                    .join(CallFlowAttachment, CallFlowAttachment.flow_id == CallFlow.id)
                    .join(
                        CallFlowVersion,
                        (CallFlowVersion.flow_id == CallFlow.id)
                        & (CallFlowVersion.version == CallFlow.published_version),
                    )
                    .where(
                        CallFlowAttachment.tenant_id == tenant_id,
                        CallFlow.tenant_id == tenant_id,
                        CallFlowAttachment.kind == kind,
                        CallFlowAttachment.target_id == target_id,
                    )
                )
            ).first()
        found = None
        if row is not None:
            found = PublishedFlow(row[0], row[1], service.stored_graph(row[2]))
        if self._stamp(tenant_id) == stamp:
            self._flows[key] = found
        return found

    async def modules(self, tenant_id: int) -> dict[str, bool]:
        cached = self._modules.get(tenant_id)
        if cached is not None:
            return dict(cached)
        stamp = self._stamp(tenant_id)
        async with self.database.session() as session:
            found = await service.stored_modules(session, tenant_id)
        if self._stamp(tenant_id) == stamp:
            self._modules[tenant_id] = found
        return dict(found)

    async def forwarding_for(self, employee_id: int) -> FlowGraph | None:
        """The employee's forwarding compiled to a graph; None when off or without steps."""
        cached = self._forwarding.get(employee_id)
        if cached is not None:
            return cached[1]
        async with self.database.session() as session:
            emp = await session.get(Employee, employee_id)
            if emp is None:
                return None
            stamp = self._stamp(emp.tenant_id)
            rules = service.rules_of(await session.get(ForwardingRule, employee_id))
        graph = (
            forwarding_graph(rules, emp.extension, employee_id=employee_id)
            if rules.active
            else None
        )
        if self._stamp(emp.tenant_id) == stamp:
            self._forwarding[employee_id] = (emp.tenant_id, graph)
        return graph

    # -- audio ---------------------------------------------------------------------------
    def prompt_path(self, tenant_id: int, prompt_id: str) -> Path | None:
        """The prompt's 8 kHz mono WAV, if the id is well formed and the file exists."""
        path = service.prompt_wav(self.data_dir, tenant_id, prompt_id)
        return path if path is not None and path.exists() else None

    async def tts_path(self, text: str, lang: str = "en") -> Path:
        """``text`` spoken by espeak-ng as an 8 kHz mono WAV, rendered once and kept under
        ``<data_dir>/prompts/tts/``. Raises :class:`~clickphone.flows.audio.TtsUnavailable`
        when espeak-ng is missing or fails, ``ValueError`` for an unsupported language."""
        key = audio.tts_key(text, lang)
        path = self.data_dir / "prompts" / "tts" / f"{key}.wav"
        if path.exists():
            return path
        lock = self._tts_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if not path.exists():
                    await audio.render_tts(text, lang, path)
        finally:
            if not lock.locked():
                self._tts_locks.pop(key, None)
        return path
