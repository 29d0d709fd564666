"""Personal forwarding rules compiled into a call flow graph (pure).

An employee's rules are an ordered chain of destinations, each with a delay: "to my mobile
after 20 s", "then to 102 after 3 rings". :func:`forwarding_graph` turns them into a
:class:`FlowGraph` the same interpreter runs:

- the first step's delay is how long the employee's own phones ring first
  (a ring group of the employee); a delay of 0 forwards immediately, without ringing them;
- then each destination is tried in order (a :class:`ForwardNode`); a later step's delay is
  how long the call waits after the previous destination gave up (no answer, busy, failed)
  before it tries this one (``Forward.after_seconds``);
- when the last destination gives up, the call hangs up.

A busy employee is forwarded at once (the ring group's ``busy`` falls back to ``no_answer``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .model import (
    Duration,
    Edge,
    FlowGraph,
    ForwardNode,
    HangupNode,
    Node,
    Position,
    RingGroupNode,
    StartNode,
)

MAX_STEPS = 10
START_ID = "start"
OWN_PHONES_ID = "own_phones"
END_ID = "end"

Destination = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class ForwardingStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    destination: Destination
    delay: Duration = Field(default_factory=lambda: Duration(value=0))


class ForwardingRules(BaseModel):
    """What ``GET/PUT /api/v1/me/forwarding`` carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    steps: tuple[ForwardingStep, ...] = Field(default=(), max_length=MAX_STEPS)

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.steps)


def step_id(index: int) -> str:
    """Node id of the forward for step ``index`` (0-based)."""
    return f"forward_{index + 1}"


def forwarding_graph(
    rules: ForwardingRules, extension: str | None, *, employee_id: int
) -> FlowGraph:
    """The flow for calls to the employee with ``employee_id`` (``extension`` labels it).

    Rules without steps give a graph that just rings the employee (as if no forwarding)."""
    label = f"ext. {extension}" if extension else f"employee {employee_id}"
    nodes: list[Node] = [StartNode(id=START_ID, position=Position(x=0, y=0))]
    edges: list[Edge] = []
    previous, output = START_ID, "next"
    steps = rules.steps
    first_wait = steps[0].delay if steps else Duration(value=60)
    if first_wait.seconds > 0:
        nodes.append(
            RingGroupNode(
                id=OWN_PHONES_ID,
                label=f"Ring {label}",
                employee_ids=(employee_id,),
                ring_time=first_wait,
                position=Position(x=0, y=120),
            )
        )
        edges.append(Edge(source=previous, output=output, target=OWN_PHONES_ID))
        previous, output = OWN_PHONES_ID, "no_answer"
    for index, step in enumerate(steps):
        node_id = step_id(index)
        delay = Duration(value=0) if index == 0 else step.delay
        nodes.append(
            ForwardNode(
                id=node_id,
                label=f"Forward to {step.destination}",
                destination=step.destination,
                delay=delay,
                position=Position(x=0, y=120 * (len(nodes))),
            )
        )
        edges.append(Edge(source=previous, output=output, target=node_id))
        previous, output = node_id, "failed"
    nodes.append(HangupNode(id=END_ID, label="Hang up", position=Position(x=0, y=120 * len(nodes))))
    edges.append(Edge(source=previous, output=output, target=END_ID))
    return FlowGraph(nodes=tuple(nodes), edges=tuple(edges))
