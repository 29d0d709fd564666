"""Call flows (L0, pure): the graph model, its validation and the step interpreter.

No I/O, no clock, no database: the routing runtime feeds events and the current time in.
"""

from .interpreter import (
    CallInfo,
    FlowError,
    FlowState,
    FlowStateError,
    Step,
    TraceEntry,
    advance,
    run_simulation,
    simulate,
    start,
)
from .model import FlowGraph, dump_json, json_schema, load_json
from .validate import Problem, publishable, validate

__all__ = [
    "CallInfo",
    "FlowError",
    "FlowGraph",
    "FlowState",
    "FlowStateError",
    "Problem",
    "Step",
    "TraceEntry",
    "advance",
    "dump_json",
    "json_schema",
    "load_json",
    "publishable",
    "run_simulation",
    "simulate",
    "start",
    "validate",
]
