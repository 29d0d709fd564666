"""Call flow graphs: typed nodes, edges from a node's named output to another node.

A flow is a versioned graph the customer draws in the Logic editor. Every node has one input
and a fixed set of named outputs (an IVR menu's outputs are the names its digits map to). An
edge joins ``(source, output)`` to ``target``.

The models are strict about *shape* (unknown fields, wrong types and out-of-range numbers are
refused while parsing) and lenient about *meaning*: time ranges, timezones, digits and missing
audio are plain values here and are reported, named on their node, by
:func:`clickphone.flows.validate.validate`, so a draft with mistakes can still be saved.

:func:`dump_json` is canonical: nodes sorted by id, edges by (source, output, target), keys
sorted, no whitespace — the same graph always gives the same text.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION: Literal[1] = 1
SECONDS_PER_RING = 5

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RingStrategy = Literal["all", "in_order", "round_robin", "least_recent"]
NodeType = Literal[
    "start",
    "time_condition",
    "play",
    "ivr_menu",
    "ring_group",
    "forward",
    "queue",
    "voicemail",
    "hangup",
    "module_switch",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Position(_Model):
    """Where the editor draws the node; the engine ignores it."""

    x: float = 0.0
    y: float = 0.0


class Duration(_Model):
    """A wait given in seconds or in rings (one ring is :data:`SECONDS_PER_RING` seconds)."""

    value: int = Field(ge=0, le=3600)
    unit: Literal["seconds", "rings"] = "seconds"

    @property
    def seconds(self) -> int:
        return self.value * SECONDS_PER_RING if self.unit == "rings" else self.value


class Prompt(_Model):
    """Audio to play: an uploaded/recorded prompt reference, or text for text-to-speech.

    When both are set the audio wins; the text is then only its transcript.
    """

    audio: str | None = None
    text: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.audio or (self.text and self.text.strip()))


class TimeRange(_Model):
    """Local ``"HH:MM"`` times: ``start`` inclusive, ``end`` exclusive (may be ``"24:00"``)."""

    start: str
    end: str


class IvrChoice(_Model):
    """A key the caller may press and the output it leads to (several keys may share one)."""

    digit: str
    output: str = Field(min_length=1)


class _Node(_Model):
    id: str = Field(min_length=1, max_length=64)
    label: str = ""
    position: Position | None = None

    def outputs(self) -> tuple[str, ...]:
        """Every output this node may take."""
        return ()

    def required_outputs(self) -> tuple[str, ...]:
        """Outputs that must be wired; an unwired optional output ends the call."""
        return self.outputs()


class StartNode(_Node):
    """The entry: where every call begins."""

    type: Literal["start"] = "start"

    def outputs(self) -> tuple[str, ...]:
        return ("next",)


class TimeConditionNode(_Node):
    """Business hours per weekday, holiday dates (closed all day), in an IANA timezone."""

    type: Literal["time_condition"] = "time_condition"
    timezone: str = "UTC"
    hours: dict[Weekday, tuple[TimeRange, ...]] = Field(default_factory=dict)
    holidays: tuple[str, ...] = ()  # ISO dates, "2026-12-31"

    def outputs(self) -> tuple[str, ...]:
        return ("open", "closed")


class PlayNode(_Node):
    type: Literal["play"] = "play"
    prompt: Prompt = Field(default_factory=Prompt)

    def outputs(self) -> tuple[str, ...]:
        return ("next",)


class IvrMenuNode(_Node):
    """Plays its prompt while collecting one key.

    A wrong key or silence replays the menu up to ``repeats`` more times; after that the call
    takes the ``invalid`` or ``timeout`` output (and hangs up if it is not wired).
    """

    type: Literal["ivr_menu"] = "ivr_menu"
    prompt: Prompt = Field(default_factory=Prompt)
    choices: tuple[IvrChoice, ...] = ()
    timeout: int = Field(default=5, ge=1, le=120)
    repeats: int = Field(default=2, ge=0, le=10)

    def choice_outputs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.output for c in self.choices))

    def outputs(self) -> tuple[str, ...]:
        return (*self.choice_outputs(), "invalid", "timeout")

    def required_outputs(self) -> tuple[str, ...]:
        return self.choice_outputs()

    def output_for(self, digit: str) -> str | None:
        for choice in self.choices:
            if choice.digit == digit:
                return choice.output
        return None


class RingGroupNode(_Node):
    """Rings employees (or a department's members). ``answered`` ends the flow: the call is
    bridged; ``busy`` falls back to ``no_answer`` when it is not wired."""

    type: Literal["ring_group"] = "ring_group"
    employee_ids: tuple[int, ...] = ()
    department_id: int | None = None
    strategy: RingStrategy = "all"
    ring_time: Duration = Field(default_factory=lambda: Duration(value=30))

    def outputs(self) -> tuple[str, ...]:
        return ("answered", "no_answer", "busy")

    def required_outputs(self) -> tuple[str, ...]:
        return ("no_answer",)


class ForwardNode(_Node):
    """Forwards to an E.164 number or an extension, immediately or after a delay."""

    type: Literal["forward"] = "forward"
    destination: str = ""
    delay: Duration = Field(default_factory=lambda: Duration(value=0))

    def outputs(self) -> tuple[str, ...]:
        return ("failed",)

    def required_outputs(self) -> tuple[str, ...]:
        return ()


class QueueNode(_Node):
    """Holds the caller with music until an agent answers or ``max_wait`` passes (overflow)."""

    type: Literal["queue"] = "queue"
    employee_ids: tuple[int, ...] = ()
    department_id: int | None = None
    music: str | None = None
    announce_position: bool = False
    max_wait: int = Field(default=300, ge=1, le=86400)

    def outputs(self) -> tuple[str, ...]:
        return ("answered", "overflow")

    def required_outputs(self) -> tuple[str, ...]:
        return ("overflow",)


class VoicemailNode(_Node):
    type: Literal["voicemail"] = "voicemail"
    greeting: Prompt = Field(default_factory=Prompt)
    notify_email: bool = False
    emails: tuple[str, ...] = ()


class HangupNode(_Node):
    type: Literal["hangup"] = "hangup"


class ModuleSwitchNode(_Node):
    """Branches on a module flag switched in the cabinet (a flag never set counts as off)."""

    type: Literal["module_switch"] = "module_switch"
    module: str = ""

    def outputs(self) -> tuple[str, ...]:
        return ("enabled", "disabled")


Node = Annotated[
    StartNode
    | TimeConditionNode
    | PlayNode
    | IvrMenuNode
    | RingGroupNode
    | ForwardNode
    | QueueNode
    | VoicemailNode
    | HangupNode
    | ModuleSwitchNode,
    Field(discriminator="type"),
]


class Edge(_Model):
    source: str
    output: str
    target: str


class FlowGraph(_Model):
    """One version of a call flow."""

    schema_version: Literal[1] = SCHEMA_VERSION
    version: int = Field(default=1, ge=1)
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()

    def node(self, node_id: str) -> Node | None:
        for n in self.nodes:
            if n.id == node_id:
                return n
        return None

    def canonical(self) -> FlowGraph:
        """The same graph with nodes sorted by id and edges by (source, output, target)."""
        return self.model_copy(
            update={
                "nodes": tuple(sorted(self.nodes, key=lambda n: n.id)),
                "edges": tuple(sorted(self.edges, key=lambda e: (e.source, e.output, e.target))),
            }
        )


_GRAPH = TypeAdapter(FlowGraph)


def dump_json(graph: FlowGraph) -> str:
    """Canonical JSON text of ``graph`` (stable across runs; equal graphs give equal text)."""
    data = graph.canonical().model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_json(text: str | bytes) -> FlowGraph:
    """Parse a graph; raises :class:`pydantic.ValidationError` on a malformed document."""
    return FlowGraph.model_validate_json(text)


def json_schema() -> dict[str, Any]:
    """The JSON schema of a flow graph (for the editor and the API docs)."""
    return _GRAPH.json_schema()
