"""Request/response bodies of the call-flow, prompt and forwarding API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .forwarding import ForwardingStep
from .model import FlowGraph

TargetKind = Literal["number", "employee", "department"]
Severity = Literal["error", "warning"]
SimOutcome = Literal["answered", "no_answer", "busy", "failed", "overflow"]
FlowName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ModuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class EdgeRef(BaseModel):
    source: str
    output: str
    target: str


class ProblemOut(BaseModel):
    code: str
    message: str
    severity: Severity
    node_id: str | None = None
    edge: EdgeRef | None = None


class AttachmentIn(BaseModel):
    kind: TargetKind
    target_id: int


class AttachmentOut(AttachmentIn):
    label: str


class FlowCreate(BaseModel):
    name: FlowName
    graph: dict[str, Any] | None = Field(
        None, description="initial draft (a flow graph); default: start → hang up"
    )
    tenant_id: int | None = Field(None, description="operator staff only")


class FlowPatch(BaseModel):
    name: FlowName | None = None


class DraftIn(BaseModel):
    graph: dict[str, Any] = Field(description="a flow graph (see the FlowGraph schema)")


class FlowOut(BaseModel):
    id: int
    tenant_id: int
    name: str
    draft: FlowGraph
    problems: list[ProblemOut]
    published_version: int | None
    attachments: list[AttachmentOut]
    created_at: datetime
    updated_at: datetime


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    flow_id: int
    version: int
    published_at: datetime
    published_by: int | None
    published_by_name: str = ""
    rollback_of: int | None
    current: bool = False


class VersionDetail(VersionOut):
    graph: FlowGraph


class SimulateIn(BaseModel):
    graph: dict[str, Any] | None = Field(None, description="default: the saved draft")
    at: datetime = Field(description="when the test call happens (naive = UTC)")
    digits: Annotated[str, StringConstraints(pattern=r"^[0-9*#\- ]*$", max_length=50)] = Field(
        "", description="keys pressed at successive IVR menus; '-' or ' ' is silence"
    )
    caller: Annotated[str, StringConstraints(max_length=64)] = ""
    outcomes: dict[str, SimOutcome] = Field(
        default_factory=dict,
        description="per ring group / forward / queue node id; default no answer",
    )
    modules: dict[str, bool] | None = Field(
        None, description="module switches for this run; default: the company's"
    )


class TraceOut(BaseModel):
    at: datetime
    node_id: str
    node_type: str
    output: str | None
    kind: str
    detail: str | None = None


class SimulateOut(BaseModel):
    path: list[str]
    trace: list[TraceOut]
    action: dict[str, Any] = Field(
        description="the final instruction: {type: hangup|voicemail|done|..., ...fields}"
    )


class ModulesBody(BaseModel):
    modules: dict[ModuleName, bool]


class PromptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tenant_id: int
    name: str
    source: Literal["upload", "recorded", "tts"]
    text: str
    lang: str
    original_filename: str
    original_format: str
    duration_seconds: float
    size_bytes: int
    created_at: datetime
    audio_url: str = ""


class TtsIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    lang: Literal["en", "ru"] = "en"


class ForwardingIn(BaseModel):
    """``employee_id`` and ``extension`` of a GET answer sent back are ignored."""

    enabled: bool = False
    steps: list[ForwardingStep] = Field(default_factory=list, max_length=10)


class ForwardingOut(BaseModel):
    employee_id: int
    extension: str | None
    enabled: bool
    steps: list[ForwardingStep]
