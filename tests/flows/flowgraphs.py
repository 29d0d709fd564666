"""Graphs shared by the flow tests: a realistic company flow and small builders."""

from __future__ import annotations

import json
from typing import Any

from clickphone.flows.model import Edge, FlowGraph, load_json

WEEKDAY_HOURS = {
    day: [{"start": "09:00", "end": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri")
}


def graph(nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]]) -> FlowGraph:
    return FlowGraph.model_validate(
        {
            "nodes": nodes,
            "edges": [Edge(source=s, output=o, target=t).model_dump() for s, o, t in edges],
        }
    )


def company_flow() -> FlowGraph:
    """Business hours -> greeting -> IVR (1 sales, 2 support) -> ring groups -> voicemail;
    after hours and holidays -> voicemail."""
    text = """
    {
      "version": 3,
      "nodes": [
        {"id": "start", "type": "start"},
        {"id": "hours", "type": "time_condition", "timezone": "Europe/Moscow",
         "hours": %s, "holidays": ["2026-01-01", "2026-01-02"]},
        {"id": "greeting", "type": "play", "prompt": {"text": "Welcome to Acme."}},
        {"id": "menu", "type": "ivr_menu", "prompt": {"audio": "prompts/menu.wav"},
         "choices": [{"digit": "1", "output": "sales"}, {"digit": "2", "output": "support"}],
         "timeout": 5, "repeats": 1},
        {"id": "sales", "type": "ring_group", "department_id": 7, "strategy": "all",
         "ring_time": {"value": 20}},
        {"id": "support", "type": "ring_group", "employee_ids": [11, 12],
         "strategy": "in_order", "ring_time": {"value": 4, "unit": "rings"}},
        {"id": "vm", "type": "voicemail", "greeting": {"text": "Please leave a message."},
         "notify_email": true, "emails": ["office@acme.example"]},
        {"id": "bye", "type": "hangup"}
      ],
      "edges": [
        {"source": "start", "output": "next", "target": "hours"},
        {"source": "hours", "output": "open", "target": "greeting"},
        {"source": "hours", "output": "closed", "target": "vm"},
        {"source": "greeting", "output": "next", "target": "menu"},
        {"source": "menu", "output": "sales", "target": "sales"},
        {"source": "menu", "output": "support", "target": "support"},
        {"source": "menu", "output": "timeout", "target": "sales"},
        {"source": "menu", "output": "invalid", "target": "bye"},
        {"source": "sales", "output": "no_answer", "target": "vm"},
        {"source": "support", "output": "no_answer", "target": "vm"},
        {"source": "support", "output": "busy", "target": "sales"}
      ]
    }
    """
    return load_json(text % json.dumps(WEEKDAY_HOURS))
