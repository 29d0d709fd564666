"""Meaning checks on a call flow graph: every problem is named on its node (or edge).

``validate(graph)`` never raises; it returns :class:`Problem` values with a stable ``code``
the editor can show and the API can return. A graph may be published only when
:func:`publishable` holds (no error-level problem); warnings are shown but do not block.

``validate(graph, known=Known(...))`` also checks references against what exists in the
tenant (prompt ids, employee and department ids) — the caller loads those sets; this module
stays pure. A ``None`` set in :class:`Known` means "not checked".
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from .model import (
    Edge,
    FlowGraph,
    ForwardNode,
    IvrMenuNode,
    ModuleSwitchNode,
    Node,
    PlayNode,
    QueueNode,
    RingGroupNode,
    TimeConditionNode,
    TimeRange,
    VoicemailNode,
)

Severity = Literal["error", "warning"]

# Stable problem codes (the editor and API clients key on these).
MISSING_START = "missing_start"
MULTIPLE_STARTS = "multiple_starts"
DUPLICATE_NODE_ID = "duplicate_node_id"
UNREACHABLE_NODE = "unreachable_node"
MISSING_BRANCH = "missing_branch"
UNKNOWN_SOURCE = "unknown_source"
UNKNOWN_TARGET = "unknown_target"
UNKNOWN_OUTPUT = "unknown_output"
DUPLICATE_EDGE = "duplicate_edge"
EDGE_TO_START = "edge_to_start"
DUPLICATE_DIGIT = "duplicate_digit"
BAD_DIGIT = "bad_digit"
EMPTY_MENU = "empty_menu"
MISSING_AUDIO = "missing_audio"
BAD_TIME_RANGE = "bad_time_range"
BAD_HOLIDAY = "bad_holiday"
UNKNOWN_TIMEZONE = "unknown_timezone"
EMPTY_RING_GROUP = "empty_ring_group"
EMPTY_RING_TIME = "empty_ring_time"
MISSING_DESTINATION = "missing_destination"
BAD_DESTINATION = "bad_destination"
MISSING_MODULE = "missing_module"
UNGUARDED_LOOP = "unguarded_loop"
UNKNOWN_EMPLOYEE = "unknown_employee"
UNKNOWN_DEPARTMENT = "unknown_department"

IVR_DIGITS = frozenset("0123456789*#")
WAIT_NODE_TYPES = frozenset({"ivr_menu", "queue"})

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EXTENSION = re.compile(r"^\d{2,8}$")


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    severity: Severity = "error"
    node_id: str | None = None
    edge: Edge | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """Ids that exist in the tenant; references to anything else are problems."""

    prompts: Collection[str] | None = None
    employees: Collection[int] | None = None
    departments: Collection[int] | None = None


def publishable(problems: list[Problem]) -> bool:
    return not any(p.severity == "error" for p in problems)


def minutes(hhmm: str) -> int | None:
    """Minutes since midnight of ``"HH:MM"`` (``"24:00"`` is 1440), or None when malformed."""
    if not _HHMM.match(hhmm):
        return None
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def is_destination(value: str) -> bool:
    """An E.164 number (``+79161234567``) or an internal extension (2–8 digits)."""
    return bool(_E164.match(value) or _EXTENSION.match(value))


def validate(graph: FlowGraph, known: Known | None = None) -> list[Problem]:
    problems: list[Problem] = []
    nodes: dict[str, Node] = {}
    for node in graph.nodes:
        if node.id in nodes:
            problems.append(
                Problem(DUPLICATE_NODE_ID, f"node id {node.id!r} is used twice", node_id=node.id)
            )
        else:
            nodes[node.id] = node

    starts = [n for n in graph.nodes if n.type == "start"]
    if not starts:
        problems.append(Problem(MISSING_START, "the flow has no start node"))
    for extra in starts[1:]:
        problems.append(
            Problem(MULTIPLE_STARTS, "the flow has more than one start node", node_id=extra.id)
        )

    wired: dict[tuple[str, str], Edge] = {}
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in graph.edges:
        problems.extend(_check_edge(edge, nodes, wired))
        if edge.source in nodes and edge.target in nodes:
            successors[edge.source].append(edge.target)

    for node in nodes.values():
        for output in node.required_outputs():
            if (node.id, output) not in wired:
                problems.append(
                    Problem(
                        MISSING_BRANCH,
                        f"output {output!r} of {node.type} {node.id!r} leads nowhere",
                        node_id=node.id,
                    )
                )
        problems.extend(_check_node(node))
        if known is not None:
            problems.extend(_check_references(node, known))

    if starts:
        reachable = _reachable(starts[0].id, successors)
        for node in nodes.values():
            if node.id not in reachable and node.type != "start":
                problems.append(
                    Problem(
                        UNREACHABLE_NODE,
                        f"no path from the start reaches {node.id!r}",
                        node_id=node.id,
                    )
                )

    problems.extend(_unguarded_loops(nodes, successors))
    return problems


def _check_edge(
    edge: Edge, nodes: dict[str, Node], wired: dict[tuple[str, str], Edge]
) -> list[Problem]:
    out: list[Problem] = []
    source = nodes.get(edge.source)
    if source is None:
        out.append(Problem(UNKNOWN_SOURCE, f"edge from unknown node {edge.source!r}", edge=edge))
    elif edge.output not in source.outputs():
        out.append(
            Problem(
                UNKNOWN_OUTPUT,
                f"{source.type} {source.id!r} has no output {edge.output!r}",
                node_id=source.id,
                edge=edge,
            )
        )
    elif (edge.source, edge.output) in wired:
        out.append(
            Problem(
                DUPLICATE_EDGE,
                f"output {edge.output!r} of {edge.source!r} is wired more than once",
                node_id=edge.source,
                edge=edge,
            )
        )
    else:
        wired[(edge.source, edge.output)] = edge
    target = nodes.get(edge.target)
    if target is None:
        out.append(
            Problem(
                UNKNOWN_TARGET,
                f"edge to unknown node {edge.target!r}",
                node_id=edge.source if source else None,
                edge=edge,
            )
        )
    elif target.type == "start":
        out.append(
            Problem(
                EDGE_TO_START, "nothing may lead back to the start", node_id=target.id, edge=edge
            )
        )
    return out


def _check_node(node: Node) -> list[Problem]:
    if isinstance(node, PlayNode) and node.prompt.is_empty:
        return [Problem(MISSING_AUDIO, "play needs an audio prompt or text", node_id=node.id)]
    if isinstance(node, IvrMenuNode):
        return _check_ivr(node)
    if isinstance(node, TimeConditionNode):
        return _check_time_condition(node)
    if isinstance(node, RingGroupNode):
        out: list[Problem] = []
        if not node.employee_ids and node.department_id is None:
            out.append(Problem(EMPTY_RING_GROUP, "ring group has nobody to ring", node_id=node.id))
        if node.ring_time.seconds == 0:
            out.append(Problem(EMPTY_RING_TIME, "ring time must be above zero", node_id=node.id))
        return out
    if isinstance(node, ForwardNode):
        if not node.destination.strip():
            return [Problem(MISSING_DESTINATION, "forward has no destination", node_id=node.id)]
        if not is_destination(node.destination):
            return [
                Problem(
                    BAD_DESTINATION,
                    f"{node.destination!r} is neither an E.164 number nor an extension",
                    node_id=node.id,
                )
            ]
    if isinstance(node, QueueNode) and not node.employee_ids and node.department_id is None:
        return [Problem(EMPTY_RING_GROUP, "queue has no agents", node_id=node.id)]
    if isinstance(node, ModuleSwitchNode) and not node.module.strip():
        return [Problem(MISSING_MODULE, "module switch names no module", node_id=node.id)]
    return []


def prompt_refs(node: Node) -> list[tuple[str, str]]:
    """(what, prompt id) pairs a node plays."""
    out: list[tuple[str, str]] = []
    if isinstance(node, (PlayNode, IvrMenuNode)) and node.prompt.audio:
        out.append(("prompt", node.prompt.audio))
    elif isinstance(node, VoicemailNode) and node.greeting.audio:
        out.append(("greeting", node.greeting.audio))
    elif isinstance(node, QueueNode) and node.music:
        out.append(("music", node.music))
    return out


def _check_references(node: Node, known: Known) -> list[Problem]:
    out: list[Problem] = []
    if known.prompts is not None:
        for what, prompt_id in prompt_refs(node):
            if prompt_id not in known.prompts:
                out.append(
                    Problem(
                        MISSING_AUDIO,
                        f"the {what} {prompt_id!r} does not exist (deleted or never uploaded)",
                        node_id=node.id,
                    )
                )
    if isinstance(node, (RingGroupNode, QueueNode)):
        if known.employees is not None:
            for employee_id in node.employee_ids:
                if employee_id not in known.employees:
                    out.append(
                        Problem(
                            UNKNOWN_EMPLOYEE,
                            f"employee {employee_id} does not exist",
                            node_id=node.id,
                        )
                    )
        if (
            known.departments is not None
            and node.department_id is not None
            and node.department_id not in known.departments
        ):
            out.append(
                Problem(
                    UNKNOWN_DEPARTMENT,
                    f"department {node.department_id} does not exist",
                    node_id=node.id,
                )
            )
    return out


def _check_ivr(node: IvrMenuNode) -> list[Problem]:
    out: list[Problem] = []
    if node.prompt.is_empty:
        out.append(Problem(MISSING_AUDIO, "IVR menu needs a prompt", node_id=node.id))
    if not node.choices:
        out.append(Problem(EMPTY_MENU, "IVR menu offers no keys", node_id=node.id))
    seen: set[str] = set()
    for choice in node.choices:
        if choice.digit not in IVR_DIGITS:
            out.append(
                Problem(BAD_DIGIT, f"{choice.digit!r} is not a key 0-9, * or #", node_id=node.id)
            )
        elif choice.digit in seen:
            out.append(
                Problem(DUPLICATE_DIGIT, f"key {choice.digit!r} is used twice", node_id=node.id)
            )
        seen.add(choice.digit)
    return out


def _check_time_condition(node: TimeConditionNode) -> list[Problem]:
    out: list[Problem] = []
    try:
        zoneinfo.ZoneInfo(node.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        out.append(
            Problem(UNKNOWN_TIMEZONE, f"unknown timezone {node.timezone!r}", node_id=node.id)
        )
    for day, ranges in node.hours.items():
        out.extend(_check_ranges(node.id, day, ranges))
    for holiday in node.holidays:
        try:
            dt.date.fromisoformat(holiday)
        except ValueError:
            out.append(
                Problem(BAD_HOLIDAY, f"{holiday!r} is not a date YYYY-MM-DD", node_id=node.id)
            )
    return out


def _check_ranges(node_id: str, day: str, ranges: tuple[TimeRange, ...]) -> list[Problem]:
    out: list[Problem] = []
    spans: list[tuple[int, int]] = []
    for r in ranges:
        start, end = minutes(r.start), minutes(r.end)
        if start is None or end is None or start >= end or start == 1440:
            out.append(
                Problem(
                    BAD_TIME_RANGE,
                    f"{day} {r.start}-{r.end} is not a range HH:MM-HH:MM within a day",
                    node_id=node_id,
                )
            )
        else:
            spans.append((start, end))
    spans.sort()
    for (_, prev_end), (start, _) in itertools.pairwise(spans):
        if start < prev_end:
            out.append(Problem(BAD_TIME_RANGE, f"{day} has overlapping ranges", node_id=node_id))
            break
    return out


def _reachable(start: str, successors: dict[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in successors.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _unguarded_loops(nodes: dict[str, Node], successors: dict[str, list[str]]) -> list[Problem]:
    """Cycles among nodes that never wait for the caller (no IVR menu or queue on them)."""
    free = {nid for nid, n in nodes.items() if n.type not in WAIT_NODE_TYPES}
    graph = {nid: [s for s in successors.get(nid, ()) if s in free] for nid in sorted(free)}
    out: list[Problem] = []
    for component in _strongly_connected(graph):
        looped = len(component) > 1 or component[0] in graph[component[0]]
        if looped:
            members = sorted(component)
            out.append(
                Problem(
                    UNGUARDED_LOOP,
                    "these nodes can loop without waiting for the caller: " + ", ".join(members),
                    severity="warning",
                    node_id=members[0],
                )
            )
    return out


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (graphs drawn by hand are small, but never recurse)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph[node]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.remove(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result
