"""The pure call-flow interpreter: events in, instructions for the runtime out.

``start(graph, call, now)`` walks from the start node until a node needs the runtime (a
prompt to play, digits to collect, phones to ring, ...) and returns a :class:`Step` with that
:class:`Action`, the :class:`TraceEntry` values produced on the way and the new
:class:`FlowState`. The runtime performs the action and reports what happened with
``advance(state, event)``. Nothing here reads a clock: ``now`` and every event's ``at`` are
passed in.

Which event each waiting node accepts is one table, :data:`ACCEPTS`; any other event raises
:class:`FlowStateError` naming the node and the event. ``CallerHangup`` is accepted anywhere.

A flow that keeps moving without ending is cut after ``max_steps`` node entries with a
``Hangup("loop_cut")`` action and a ``loop_cut`` trace entry.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from .model import (
    WEEKDAYS,
    FlowGraph,
    ForwardNode,
    IvrMenuNode,
    ModuleSwitchNode,
    Node,
    PlayNode,
    Prompt,
    QueueNode,
    RingGroupNode,
    RingStrategy,
    TimeConditionNode,
    VoicemailNode,
)
from .validate import minutes

DEFAULT_MAX_STEPS = 50


class FlowError(Exception):
    """The graph cannot be run at all (no start node)."""


class FlowStateError(FlowError):
    """The runtime reported an event the current node does not expect (a runtime bug)."""


# --- events (reported by the runtime) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptDone:
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Digit:
    digit: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Timeout:
    """No key in an IVR menu's time, or a queue's maximum wait passed."""

    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Answered:
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class NoAnswer:
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Busy:
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Failed:
    """A forward could not be placed (rejected, unreachable)."""

    at: dt.datetime


@dataclass(frozen=True, slots=True)
class CallerHangup:
    at: dt.datetime


Event = PromptDone | Digit | Timeout | Answered | NoAnswer | Busy | Failed | CallerHangup


# --- actions (instructions for the runtime) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    prompt: Prompt


@dataclass(frozen=True, slots=True)
class CollectDigits:
    """Play ``prompt`` (interruptible by a key) and wait ``timeout`` seconds for a key."""

    prompt: Prompt
    max_digits: int
    timeout: int


@dataclass(frozen=True, slots=True)
class Ring:
    employee_ids: tuple[int, ...]
    department_id: int | None
    strategy: RingStrategy
    seconds: int


@dataclass(frozen=True, slots=True)
class Forward:
    number: str
    after_seconds: int


@dataclass(frozen=True, slots=True)
class Enqueue:
    employee_ids: tuple[int, ...]
    department_id: int | None
    music: str | None
    announce_position: bool
    max_wait: int


@dataclass(frozen=True, slots=True)
class Voicemail:
    """Record a message; the flow is over once the runtime takes this."""

    greeting: Prompt
    notify_email: bool
    emails: tuple[str, ...]


HangupReason = Literal["hangup_node", "unwired_output", "loop_cut", "unknown_node"]


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: HangupReason


@dataclass(frozen=True, slots=True)
class Done:
    """The flow has nothing more to do: the call was answered or the caller hung up."""

    reason: Literal["answered", "caller_hangup"]


Action = Play | CollectDigits | Ring | Forward | Enqueue | Voicemail | Hangup | Done

TraceKind = Literal["node", "retry", "unwired", "loop_cut", "caller_hangup"]


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One thing the call did: ``kind="node"`` is a node left through ``output`` (None for a
    node that ends the flow); ``retry`` is an IVR replay after a wrong key or silence."""

    at: dt.datetime
    node_id: str
    node_type: str
    output: str | None
    kind: TraceKind = "node"
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CallInfo:
    caller: str = ""
    called: str = ""
    modules: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FlowState:
    graph: FlowGraph
    call: CallInfo
    node_id: str | None  # the node waiting for an event; None once finished
    now: dt.datetime
    steps: int = 0
    attempts: int = 0  # IVR menu plays so far at the current node
    max_steps: int = DEFAULT_MAX_STEPS
    path: tuple[str, ...] = ()
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    trace: tuple[TraceEntry, ...]
    state: FlowState


ACCEPTS: Mapping[str, frozenset[type[Event]]] = {
    "play": frozenset({PromptDone}),
    "ivr_menu": frozenset({Digit, Timeout}),
    "ring_group": frozenset({Answered, NoAnswer, Busy}),
    "forward": frozenset({Answered, NoAnswer, Busy, Failed}),
    "queue": frozenset({Answered, Timeout, NoAnswer}),
}


def start(
    graph: FlowGraph,
    call: CallInfo,
    now: dt.datetime,
    *,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> Step:
    starts = [n for n in graph.nodes if n.type == "start"]
    if not starts:
        raise FlowError("the flow has no start node")
    state = FlowState(graph=graph, call=call, node_id=None, now=now, max_steps=max_steps)
    return _enter(state, starts[0].id, [])


def advance(state: FlowState, event: Event) -> Step:
    state = replace(state, now=event.at)
    if isinstance(event, CallerHangup):
        trace: tuple[TraceEntry, ...] = ()
        if not state.finished and state.node_id is not None:
            node = _node(state, state.node_id)
            trace = (TraceEntry(event.at, node.id, node.type, None, "caller_hangup"),)
        done = replace(state, node_id=None, finished=True)
        return Step(Done("caller_hangup"), trace, done)
    if state.finished or state.node_id is None:
        raise FlowStateError(f"the flow is finished; it cannot take {type(event).__name__}")
    node = _node(state, state.node_id)
    if type(event) not in ACCEPTS.get(node.type, frozenset()):
        raise FlowStateError(f"{node.type} {node.id!r} does not expect {type(event).__name__}")
    trace_list: list[TraceEntry] = []
    if isinstance(node, IvrMenuNode):
        return _ivr_event(state, node, event, trace_list)
    if isinstance(event, Answered):
        trace_list.append(TraceEntry(event.at, node.id, node.type, "answered"))
        return _finish(state, Done("answered"), trace_list)
    if isinstance(node, PlayNode):
        output = "next"
    elif isinstance(node, RingGroupNode):
        output = (
            "busy" if isinstance(event, Busy) and _wired(state, node.id, "busy") else "no_answer"
        )
    elif isinstance(node, QueueNode):
        output = "overflow"
    else:
        output = "failed"
    return _leave(state, node, output, trace_list)


# --- walking --------------------------------------------------------------------------------


def _node(state: FlowState, node_id: str) -> Node:
    node = state.graph.node(node_id)
    if node is None:
        raise FlowStateError(f"node {node_id!r} is not in the graph")
    return node


def _target(state: FlowState, node_id: str, output: str) -> str | None:
    for edge in state.graph.edges:
        if edge.source == node_id and edge.output == output:
            return edge.target
    return None


def _wired(state: FlowState, node_id: str, output: str) -> bool:
    return _target(state, node_id, output) is not None


def _finish(state: FlowState, action: Action, trace: list[TraceEntry]) -> Step:
    return Step(action, tuple(trace), replace(state, node_id=None, finished=True, attempts=0))


def _wait(state: FlowState, node: Node, action: Action, trace: list[TraceEntry]) -> Step:
    return Step(action, tuple(trace), replace(state, node_id=node.id))


def _leave(state: FlowState, node: Node, output: str, trace: list[TraceEntry]) -> Step:
    trace.append(TraceEntry(state.now, node.id, node.type, output))
    target = _target(state, node.id, output)
    if target is None:
        trace.append(TraceEntry(state.now, node.id, node.type, output, "unwired"))
        return _finish(state, Hangup("unwired_output"), trace)
    return _enter(state, target, trace)


def _enter(state: FlowState, node_id: str, trace: list[TraceEntry]) -> Step:
    """Walk from ``node_id`` through nodes that decide by themselves until one needs the
    runtime."""
    while True:
        node = state.graph.node(node_id)
        if node is None:
            return _finish(state, Hangup("unknown_node"), trace)
        if state.steps >= state.max_steps:
            trace.append(
                TraceEntry(
                    state.now,
                    node.id,
                    node.type,
                    None,
                    "loop_cut",
                    f"cut after {state.steps} steps",
                )
            )
            return _finish(state, Hangup("loop_cut"), trace)
        state = replace(
            state, steps=state.steps + 1, attempts=0, path=(*state.path, node.id), node_id=None
        )
        output = _decide(state, node)
        if output is None:
            return _act(state, node, trace)
        trace.append(TraceEntry(state.now, node.id, node.type, output))
        target = _target(state, node.id, output)
        if target is None:
            trace.append(TraceEntry(state.now, node.id, node.type, output, "unwired"))
            return _finish(state, Hangup("unwired_output"), trace)
        node_id = target


def _decide(state: FlowState, node: Node) -> str | None:
    """The output of a node that needs no runtime help, or None."""
    if node.type == "start":
        return "next"
    if isinstance(node, TimeConditionNode):
        return "open" if is_open(node, state.now) else "closed"
    if isinstance(node, ModuleSwitchNode):
        return "enabled" if state.call.modules.get(node.module, False) else "disabled"
    return None


def _act(state: FlowState, node: Node, trace: list[TraceEntry]) -> Step:
    if isinstance(node, PlayNode):
        return _wait(state, node, Play(node.prompt), trace)
    if isinstance(node, IvrMenuNode):
        return _wait(replace(state, attempts=1), node, _collect(node), trace)
    if isinstance(node, RingGroupNode):
        ring = Ring(node.employee_ids, node.department_id, node.strategy, node.ring_time.seconds)
        return _wait(state, node, ring, trace)
    if isinstance(node, ForwardNode):
        return _wait(state, node, Forward(node.destination, node.delay.seconds), trace)
    if isinstance(node, QueueNode):
        enqueue = Enqueue(
            node.employee_ids,
            node.department_id,
            node.music,
            node.announce_position,
            node.max_wait,
        )
        return _wait(state, node, enqueue, trace)
    trace.append(TraceEntry(state.now, node.id, node.type, None))
    if isinstance(node, VoicemailNode):
        return _finish(state, Voicemail(node.greeting, node.notify_email, node.emails), trace)
    return _finish(state, Hangup("hangup_node"), trace)


def _collect(node: IvrMenuNode) -> CollectDigits:
    return CollectDigits(node.prompt, max_digits=1, timeout=node.timeout)


def _ivr_event(state: FlowState, node: IvrMenuNode, event: Event, trace: list[TraceEntry]) -> Step:
    if isinstance(event, Digit):
        output = node.output_for(event.digit)
        if output is not None:
            return _leave(state, node, output, trace)
        failure = "invalid"
        detail: str | None = f"key {event.digit!r}"
    else:
        failure = "timeout"
        detail = None
    if state.attempts <= node.repeats:
        trace.append(TraceEntry(state.now, node.id, node.type, failure, "retry", detail))
        again = replace(state, attempts=state.attempts + 1)
        return _wait(again, node, _collect(node), trace)
    return _leave(state, node, failure, trace)


# --- time conditions ------------------------------------------------------------------------


def is_open(node: TimeConditionNode, now: dt.datetime) -> bool:
    """Business hours at ``now`` in the node's timezone (a naive ``now`` is taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    local = now.astimezone(zoneinfo.ZoneInfo(node.timezone))
    if local.date().isoformat() in node.holidays:
        return False
    minute = local.hour * 60 + local.minute
    for r in node.hours.get(WEEKDAYS[local.weekday()], ()):
        start, end = minutes(r.start), minutes(r.end)
        if start is not None and end is not None and start <= minute < end:
            return True
    return False


# --- simulation -----------------------------------------------------------------------------

Outcome = Literal["answered", "no_answer", "busy", "failed", "overflow"]


@dataclass(frozen=True, slots=True)
class Simulation:
    path: tuple[str, ...]
    trace: tuple[TraceEntry, ...]
    end: Action


def run_simulation(
    graph: FlowGraph,
    when: dt.datetime,
    digits: str | Sequence[str | None] = (),
    outcomes: Sequence[Outcome] = (),
    *,
    modules: Mapping[str, bool] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    node_outcomes: Mapping[str, Outcome] | None = None,
    caller: str = "",
    called: str = "",
) -> Simulation:
    """Walk ``graph`` as a test call at ``when``: prompts finish at once; each IVR menu takes
    the next of ``digits`` (None, or running out, is a timeout); each ring group, forward and
    queue takes its entry in ``node_outcomes`` (by node id) or else the next of ``outcomes``
    (running out is no answer / overflow)."""
    keys = list(digits)
    results = list(outcomes)
    by_node = dict(node_outcomes or {})
    call = CallInfo(caller=caller, called=called, modules=dict(modules or {}))
    step = start(graph, call, when, max_steps=max_steps)
    trace = list(step.trace)
    while not step.state.finished:
        waiting = step.state.node_id
        scripted = [by_node[waiting]] if waiting in by_node else results
        step = advance(step.state, _scripted(step.action, when, keys, scripted))
        trace.extend(step.trace)
    return Simulation(step.state.path, tuple(trace), step.action)


def simulate(
    graph: FlowGraph,
    when: dt.datetime,
    digits: str | Sequence[str | None] = (),
    outcomes: Sequence[Outcome] = (),
    *,
    modules: Mapping[str, bool] | None = None,
) -> list[str]:
    """The node ids a test call walks (see :func:`run_simulation`)."""
    return list(run_simulation(graph, when, digits, outcomes, modules=modules).path)


def _scripted(
    action: Action, at: dt.datetime, keys: list[str | None], results: list[Outcome]
) -> Event:
    if isinstance(action, Play):
        return PromptDone(at)
    if isinstance(action, CollectDigits):
        key = keys.pop(0) if keys else None
        return Timeout(at) if key is None else Digit(key, at)
    outcome: Outcome = results.pop(0) if results else "no_answer"
    if outcome == "answered":
        return Answered(at)
    if isinstance(action, Enqueue):
        return Timeout(at)
    if outcome == "busy":
        return Busy(at)
    if outcome == "failed" and isinstance(action, Forward):
        return Failed(at)
    return NoAnswer(at)
